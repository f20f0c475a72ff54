#include "convroute.h"

#include <string.h>

static const char *const names[CR_CHANNEL_COUNT] = {
    "voice", "chat", "whatsapp", "sms", "messenger", "email", "task"};

/* Other spellings hosts commonly use for the same channels. */
static const struct {
  const char *name;
  int channel;
} aliases[] = {{"webchat", CR_CHANNEL_CHAT}, {"web", CR_CHANNEL_CHAT},
               {"call", CR_CHANNEL_VOICE},   {"phone", CR_CHANNEL_VOICE},
               {"wa", CR_CHANNEL_WHATSAPP},  {"fb", CR_CHANNEL_MESSENGER}};

const char *cr_channel_name(int channel) {
  if (channel < 0 || channel >= CR_CHANNEL_COUNT)
    return NULL;
  return names[channel];
}

static int ieq(const char *s, size_t len, const char *lit) {
  size_t n = strlen(lit);
  if (n != len)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != lit[i])
      return 0;
  }
  return 1;
}

int cr_channel_parse(const char *s, size_t len) {
  if (!s)
    return CR_EINVAL;
  for (int i = 0; i < CR_CHANNEL_COUNT; i++)
    if (ieq(s, len, names[i]))
      return i;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (ieq(s, len, aliases[i].name))
      return aliases[i].channel;
  return CR_EINVAL;
}
