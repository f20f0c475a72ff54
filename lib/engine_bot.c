/* The bot policy: what the bot does with a customer message, as data the
 * host configured (per-intent policies, business rules, system texts,
 * opening hours), never host code. Plans only: nothing here changes a
 * conversation; lib/engine.c commits the plan. */
#include "engine.h"
#include "handoff.h"
#include "text.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* configuration storage */

void cr__etext_free(cr_engine *e, etext *t) {
  for (unsigned i = 0; i < t->n; i++)
    cr__free(&e->mem, t->text[i]);
  memset(t, 0, sizeof *t);
}

/* Copies n language texts into dst (replacing nothing: dst is fresh). A
 * language given twice keeps the later text. */
int cr__etext_copy(cr_engine *e, etext *dst, const cr_lang_text *src,
                   size_t n) {
  memset(dst, 0, sizeof *dst);
  if (n && !src)
    return cr__e_fail(e, CR_EINVAL, "text list is NULL");
  if (n > CR_ENGINE_MAX_TEXTS)
    return cr__e_fail(e, CR_EFULL, "more than 8 languages");
  for (size_t i = 0; i < n; i++) {
    const cr_lang_text *t = &src[i];
    if (!t->lang || !t->lang_len || t->lang_len >= ELANG ||
        (t->text_len && !t->text)) {
      cr__etext_free(e, dst);
      return cr__e_fail(e, CR_EINVAL, "language tag 1..7 bytes, text");
    }
    /* the tag is compared as a C string: no NUL in it */
    if (!cr__e_name_ok(t->lang, t->lang_len) ||
        cr__utf8_check(t->text, t->text_len)) {
      cr__etext_free(e, dst);
      return cr__e_fail(e, CR_EUTF8, "language tag or text is not UTF-8 "
                                     "(or the tag has a NUL)");
    }
    char *s = cr__strndup(&e->mem, t->text ? t->text : "", t->text_len);
    if (!s) {
      cr__etext_free(e, dst);
      return CR_ENOMEM;
    }
    unsigned k = dst->n;
    for (unsigned j = 0; j < dst->n; j++)
      if (strlen(dst->lang[j]) == t->lang_len &&
          !memcmp(dst->lang[j], t->lang, t->lang_len))
        k = j;
    if (k < dst->n)
      cr__free(&e->mem, dst->text[k]);
    else
      dst->n++;
    memset(dst->lang[k], 0, ELANG);
    memcpy(dst->lang[k], t->lang, t->lang_len);
    dst->text[k] = s;
    dst->len[k] = (uint32_t)t->text_len;
  }
  return 0;
}

void cr__policy_free(cr_engine *e, epolicy *p) {
  cr__etext_free(e, &p->title);
  cr__etext_free(e, &p->text);
  cr__free(&e->mem, p->action);
  for (uint32_t i = 0; i < p->nfields && p->fields; i++) {
    cr__free(&e->mem, p->fields[i].name);
    cr__etext_free(e, &p->fields[i].prompt);
  }
  cr__free(&e->mem, p->fields);
  cr__free(&e->mem, p->queue);
  cr__e_skills_free(e, &p->skills);
  memset(p, 0, sizeof *p);
}

void cr__rule_free(cr_engine *e, erule *r) {
  cr__free(&e->mem, r->key);
  cr__free(&e->mem, r->value);
  cr__free(&e->mem, r->queue);
  cr__e_skills_free(e, &r->skills);
  memset(r, 0, sizeof *r);
}

static int str_copy(cr_engine *e, char **dst, uint32_t *dlen, const char *s,
                    size_t n, int must) {
  *dst = NULL;
  *dlen = 0;
  if (!n) {
    return must ? cr__e_fail(e, CR_EINVAL, "empty name") : 0;
  }
  if (!s || n > 255)
    return cr__e_fail(e, CR_EINVAL, "name NULL or above 255 bytes");
  if (!cr__e_name_ok(s, n))
    return cr__e_fail(e, CR_EUTF8, "name is not UTF-8 (or has a NUL)");
  if (!(*dst = cr__strndup(&e->mem, s, n)))
    return CR_ENOMEM;
  *dlen = (uint32_t)n;
  return 0;
}

static int field_copy(cr_engine *e, efield *f, const cr_field_spec *s) {
  memset(f, 0, sizeof *f);
  if (s->pattern < CR_PATTERN_NONEMPTY || s->pattern > CR_PATTERN_CALLBACK)
    return cr__e_fail(e, CR_EINVAL, "unknown field pattern");
  if (s->max_len && s->min_len > s->max_len)
    return cr__e_fail(e, CR_ERANGE, "field min_len > max_len");
  int rc = str_copy(e, &f->name, &f->name_len, s->name, s->name_len, 1);
  if (!rc)
    rc = cr__etext_copy(e, &f->prompt, s->prompt, s->nprompt);
  if (rc) {
    cr__free(&e->mem, f->name);
    f->name = NULL;
    return rc;
  }
  f->pattern = s->pattern;
  f->min_len = s->min_len;
  f->max_len = s->max_len;
  return 0;
}

int cr_engine_set_policy(cr_engine *e, const char *label, size_t label_len,
                         const cr_intent_policy *p) {
  if (!e || !p || !label || !label_len)
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  e->err[0] = 0;
  int32_t idx = -1;
  for (size_t i = 0; i < e->nlabels; i++) {
    const char *l = cr_intent_model_label(e->model, i);
    if (strlen(l) == label_len && !memcmp(l, label, label_len))
      idx = (int32_t)i;
  }
  if (idx < 0)
    return cr__e_fail(e, CR_ENOTFOUND, "the model has no such label");
  if (p->kind < CR_POLICY_ANSWER || p->kind > CR_POLICY_END)
    return cr__e_fail(e, CR_EINVAL, "unknown policy kind");
  if (p->priority < 0 || p->priority > CR_ROUTER_MAX_PRIORITY)
    return cr__e_fail(e, CR_ERANGE, "priority outside 0..1000000");
  if (p->nfields > CR_ENGINE_MAX_FIELDS)
    return cr__e_fail(e, CR_EFULL, "more than 16 fields");
  if (p->nfields && !p->fields)
    return cr__e_fail(e, CR_EINVAL, "fields is NULL");
  if (p->kind == CR_POLICY_ACTION && !p->action_len)
    return cr__e_fail(e, CR_EINVAL, "an ACTION policy needs an action");
  epolicy n;
  memset(&n, 0, sizeof n);
  int rc = cr__etext_copy(e, &n.title, p->title, p->ntitle);
  if (!rc)
    rc = cr__etext_copy(e, &n.text, p->text, p->ntext);
  if (!rc)
    rc = str_copy(e, &n.action, &n.action_len, p->action, p->action_len, 0);
  if (!rc)
    rc = str_copy(e, &n.queue, &n.queue_len, p->queue, p->queue_len, 0);
  if (!rc)
    rc = cr__e_skills_copy(e, &n.skills, p->skills, p->nskills);
  if (!rc && p->nfields) {
    n.fields = cr__calloc(&e->mem, p->nfields, sizeof *n.fields);
    if (!n.fields)
      rc = CR_ENOMEM;
    for (size_t i = 0; !rc && i < p->nfields; i++) {
      rc = field_copy(e, &n.fields[i], &p->fields[i]);
      if (!rc)
        n.nfields = (uint32_t)(i + 1);
    }
  }
  if (rc) {
    cr__policy_free(e, &n);
    return rc;
  }
  n.set = 1;
  n.kind = p->kind;
  n.priority = p->priority;
  cr__policy_free(e, &e->policies[idx]);
  e->policies[idx] = n;
  return 0;
}

int cr_engine_add_rule(cr_engine *e, const cr_engine_rule *r) {
  if (!e || !r)
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  e->err[0] = 0;
  if (r->priority_add < -CR_ROUTER_MAX_PRIORITY ||
      r->priority_add > CR_ROUTER_MAX_PRIORITY)
    return cr__e_fail(e, CR_ERANGE, "priority_add outside +-1000000");
  if (e->nrules == e->caprules) {
    void *arr = e->rules;
    if (cr__grow(&e->mem, &arr, &e->caprules, e->nrules + 1,
                 sizeof *e->rules))
      return CR_ENOMEM;
    e->rules = arr;
  }
  erule n;
  memset(&n, 0, sizeof n);
  int rc = str_copy(e, &n.key, &n.key_len, r->key, r->key_len, 1);
  if (!rc)
    rc = str_copy(e, &n.value, &n.value_len, r->value, r->value_len, 1);
  if (!rc)
    rc = str_copy(e, &n.queue, &n.queue_len, r->queue, r->queue_len, 0);
  if (!rc)
    rc = cr__e_skills_copy(e, &n.skills, r->skills, r->nskills);
  if (rc) {
    cr__rule_free(e, &n);
    return rc;
  }
  n.priority_add = r->priority_add;
  n.handoff = r->handoff ? 1 : 0;
  n.stop = r->stop ? 1 : 0;
  e->rules[e->nrules++] = n;
  return 0;
}

int cr_engine_set_text(cr_engine *e, int kind, const char *lang,
                       size_t lang_len, const char *text, size_t text_len) {
  if (!e)
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  e->err[0] = 0;
  if (kind < 0 || kind >= CR_TEXT_COUNT)
    return cr__e_fail(e, CR_EINVAL, "unknown text kind");
  etext *t = &e->texts[kind];
  /* the old languages except this one, then this one */
  cr_lang_text all[CR_ENGINE_MAX_TEXTS];
  size_t n = 0;
  for (unsigned i = 0; i < t->n; i++) {
    if (lang && strlen(t->lang[i]) == lang_len &&
        !memcmp(t->lang[i], lang, lang_len))
      continue;
    all[n].lang = t->lang[i];
    all[n].lang_len = strlen(t->lang[i]);
    all[n].text = t->text[i];
    all[n].text_len = t->len[i];
    n++;
  }
  if (n == CR_ENGINE_MAX_TEXTS)
    return cr__e_fail(e, CR_EFULL, "more than 8 languages");
  all[n].lang = lang;
  all[n].lang_len = lang_len;
  all[n].text = text;
  all[n].text_len = text_len;
  etext fresh;
  int rc = cr__etext_copy(e, &fresh, all, n + 1);
  if (rc)
    return rc;
  cr__etext_free(e, t);
  *t = fresh;
  return 0;
}

int cr_engine_set_hours(cr_engine *e, const cr_open_interval *iv, size_t n) {
  if (!e || (n && !iv))
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  e->err[0] = 0;
  if (n > 7 * 48)
    return cr__e_fail(e, CR_EFULL, "more than 336 intervals");
  for (size_t i = 0; i < n; i++)
    if (iv[i].day < 0 || iv[i].day > 6 || iv[i].open_min < 0 ||
        iv[i].close_min > 1440 || iv[i].open_min >= iv[i].close_min)
      return cr__e_fail(e, CR_ERANGE, "interval: day 0..6, 0 <= open < "
                                      "close <= 1440");
  cr_open_interval *h = NULL;
  if (n) {
    h = cr__malloc(&e->mem, n * sizeof *h);
    if (!h)
      return CR_ENOMEM;
    memcpy(h, iv, n * sizeof *h);
  }
  cr__free(&e->mem, e->hours);
  e->hours = h;
  e->nhours = n;
  return 0;
}

/* ------------------------------------------------------------------ */
/* profile, language, hours */

/* "key=value;key=value": pairs as offsets; empty segments are skipped,
 * a segment without '=' or with an empty key is an error. */
int cr__bot_profile_parse(const char *s, size_t len,
                          uint16_t kv[EMAXKV][4], uint8_t *n) {
  *n = 0;
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && s[j] != ';')
      j++;
    size_t a = i, b = j;
    while (a < b && s[a] == ' ')
      a++;
    while (b > a && s[b - 1] == ' ')
      b--;
    if (b > a) {
      const char *eq = memchr(s + a, '=', b - a);
      if (!eq || eq == s + a || *n == EMAXKV)
        return CR_EINVAL;
      size_t k = (size_t)(eq - s);
      kv[*n][0] = (uint16_t)a;
      kv[*n][1] = (uint16_t)(k - a);
      kv[*n][2] = (uint16_t)(k + 1);
      kv[*n][3] = (uint16_t)(b - k - 1);
      (*n)++;
    }
    i = j + 1;
  }
  return 0;
}

const char *cr__bot_profile_get(const econv *c, const char *key,
                                size_t key_len, size_t *len) {
  for (unsigned i = 0; i < c->nkv; i++)
    if (c->kv[i][1] == key_len &&
        !memcmp(c->profile + c->kv[i][0], key, key_len)) {
      *len = c->kv[i][3];
      return c->profile + c->kv[i][2];
    }
  *len = 0;
  return NULL;
}

/* The profile's lang=... when given (1..7 bytes); else the script of the
 * message: any Hebrew letter (U+05D0..U+05EA) -> "he", else any ASCII
 * letter -> "en", else the conversation's language so far (out empty),
 * else the configured default. */
void cr__bot_detect_lang(cr_engine *e, const econv *c, const char *text,
                         size_t len, char out[ELANG]) {
  memset(out, 0, ELANG);
  size_t n;
  const char *l = cr__bot_profile_get(c, "lang", 4, &n);
  if (l && n && n < ELANG) {
    memcpy(out, l, n);
    return;
  }
  /* without letters the language stays: "1234567" from a Hebrew speaker
   * is still Hebrew (out stays empty = keep) */
  int latin = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = (uint8_t)text[i];
    /* U+05D0..U+05EA encode as D7 90..D7 AA */
    if (b == 0xD7 && i + 1 < len && (uint8_t)text[i + 1] >= 0x90 &&
        (uint8_t)text[i + 1] <= 0xAA) {
      memcpy(out, "he", 2);
      return;
    }
    latin |= (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
  }
  if (latin)
    memcpy(out, "en", 2);
  else if (!c->lang[0])
    memcpy(out, e->default_lang, strlen(e->default_lang));
}

static cr_time floor_div(cr_time a, cr_time b) {
  cr_time q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* now is ms since the Unix epoch (a Thursday); the schedule is in the
 * host's local time, now + utc_offset_min. */
int cr__bot_is_open(const cr_engine *e, cr_time now) {
  if (!e->nhours)
    return 1;
  cr_time min = floor_div(now, 60000) + e->utc_offset_min;
  cr_time day = floor_div(min, 1440);
  int wd = (int)(((day + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
  int m = (int)(min - day * 1440);
  for (size_t i = 0; i < e->nhours; i++)
    if (e->hours[i].day == wd && m >= e->hours[i].open_min &&
        m < e->hours[i].close_min)
      return 1;
  return 0;
}

/* The text in the conversation's language, else the default language,
 * else the first one given. */
const char *cr__bot_text(cr_engine *e, const etext *t, const econv *c,
                         size_t *len) {
  *len = 0;
  if (!t->n)
    return NULL;
  const char *want[2] = {c ? c->lang : "", e->default_lang};
  for (int w = 0; w < 2; w++)
    for (unsigned i = 0; i < t->n; i++)
      if (want[w][0] && !strcmp(t->lang[i], want[w])) {
        *len = t->len[i];
        return t->text[i];
      }
  *len = t->len[0];
  return t->text[0];
}

/* ------------------------------------------------------------------ */
/* field validation */

static int cp_count(const char *s, size_t n) {
  int k = 0;
  for (size_t i = 0; i < n; i++)
    k += ((uint8_t)s[i] & 0xC0) != 0x80;
  return k;
}

static int email_like(const char *s, size_t n) {
  const char *at = memchr(s, '@', n);
  if (!at || at == s)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == ' ' || s[i] == '\t' || (s + i != at && s[i] == '@'))
      return 0;
  size_t rest = n - (size_t)(at - s) - 1;
  const char *dot = rest ? memchr(at + 1, '.', rest) : NULL;
  /* a dot after the @ with something before it and after it */
  return dot && dot > at + 1 && dot < s + n - 1;
}

/* 1 valid, 0 invalid, 2 the host answers later (cr_engine_field_result). */
static int field_valid(cr_engine *e, econv *c, const efield *f,
                       const char *v, size_t n) {
  uint32_t len = 0;
  switch (f->pattern) {
  case CR_PATTERN_DIGITS:
    for (size_t i = 0; i < n; i++) {
      if (v[i] >= '0' && v[i] <= '9')
        len++;
      else if (v[i] != ' ' && v[i] != '-')
        return 0;
    }
    if (!len)
      return 0;
    break;
  case CR_PATTERN_EMAIL:
    if (!email_like(v, n))
      return 0;
    len = (uint32_t)cp_count(v, n);
    break;
  default: /* NONEMPTY, and CALLBACK before the host is asked */
    len = (uint32_t)cp_count(v, n);
    if (!len)
      return 0;
  }
  if (f->min_len && len < f->min_len)
    return 0;
  if (f->max_len && len > f->max_len)
    return 0;
  /* the host sees only values that meet the bounds */
  if (f->pattern != CR_PATTERN_CALLBACK || !e->cb.validate)
    return 1;
  cr__e_hold(e, 1);
  int rc = e->cb.validate(c->id, c->id_len, f->name, f->name_len, v, n,
                          e->cb.user_data);
  cr__e_hold(e, -1);
  if (rc < 0)
    e->cb_failed = 1;
  if (rc == CR_VALIDATE_LATER)
    return 2;
  return rc == 0;
}

/* Which of {1} {2} {q} starts at t[i] and has a substitute, or -1. */
static int placeholder(const char *t, size_t tn, size_t i,
                       const char *const sub[3]) {
  static const char keys[3] = {'1', '2', 'q'};
  if (t[i] == '{' && i + 2 < tn && t[i + 2] == '}')
    for (int j = 0; j < 3; j++)
      if (t[i + 1] == keys[j] && sub[j])
        return j;
  return -1;
}

/* Writes t into *buf with the placeholders {1}, {2} and {q} replaced by
 * sub[0], sub[1] and sub[2] (a NULL sub leaves its placeholder as
 * written). The size is counted first, placeholder by placeholder: a text
 * may use each of them any number of times. */
static int compose(cr_engine *e, char **buf, size_t *cap, const char *t,
                   size_t tn, const char *const sub[3], const size_t subl[3],
                   const char **out, size_t *out_len) {
  size_t need = 1;
  for (size_t i = 0; i < tn; i++) {
    int k = placeholder(t, tn, i, sub);
    if (k >= 0) {
      need += subl[k];
      i += 2;
    } else
      need++;
  }
  if (need > *cap) {
    char *b = cr__realloc(&e->mem, *buf, need);
    if (!b)
      return CR_ENOMEM;
    *buf = b;
    *cap = need;
  }
  size_t o = 0;
  for (size_t i = 0; i < tn; i++) {
    int k = placeholder(t, tn, i, sub);
    if (k >= 0) {
      memcpy(*buf + o, sub[k], subl[k]);
      o += subl[k];
      i += 2;
      continue;
    }
    (*buf)[o++] = t[i];
  }
  *out = *buf;
  *out_len = o;
  return 0;
}

/* A handoff notice with {q} replaced by the queue it goes to, in the
 * engine's handoff buffer; untouched (no copy) without a '{'. */
static int notice_queue(cr_engine *e, const char *q, size_t qn,
                        const char **t, size_t *n) {
  if (!*t || !memchr(*t, '{', *n))
    return 0;
  const char *sub[3] = {NULL, NULL, q};
  size_t subl[3] = {0, 0, qn};
  return compose(e, &e->hbuf, &e->hbuf_cap, *t, *n, sub, subl, t, n);
}

/* ------------------------------------------------------------------ */
/* planning */

static void trim(const char **s, size_t *n) {
  while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t' || (*s)[0] == '\n' ||
                (*s)[0] == '\r')) {
    (*s)++;
    (*n)--;
  }
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
                (*s)[*n - 1] == '\n' || (*s)[*n - 1] == '\r'))
    (*n)--;
}

static const epolicy *policy_of(const cr_engine *e, int32_t idx) {
  if (idx < 0 || (size_t)idx >= e->nlabels || !e->policies[idx].set)
    return NULL;
  return &e->policies[idx];
}

static int skill_add(eskills *s, cr_engine *e, const char *name, uint32_t n,
                     int level) {
  for (unsigned i = 0; i < s->n; i++)
    if (s->len[i] == n && !memcmp(s->name[i], name, n)) {
      if (level > s->level[i])
        s->level[i] = (uint8_t)level;
      return 0;
    }
  if (s->n == CR_ROUTER_MAX_STEP_SKILLS)
    return 0; /* full: documented cap, later skills are dropped */
  char *c = cr__strndup(&e->mem, name, n);
  if (!c)
    return CR_ENOMEM;
  s->name[s->n] = c;
  s->len[s->n] = n;
  s->level[s->n] = (uint8_t)level;
  s->n++;
  return 0;
}

static int rule_matches(const erule *r, const econv *c) {
  size_t n;
  const char *v = cr__bot_profile_get(c, r->key, r->key_len, &n);
  if (!v)
    return 0;
  if (r->value_len == 1 && r->value[0] == '*')
    return 1;
  return n == r->value_len && !memcmp(v, r->value, n);
}

int cr__bot_plan_handoff(cr_engine *e, econv *c, int ev, int reason,
                         int32_t intent, double conf, eplan *p) {
  const epolicy *pol = policy_of(e, intent >= 0 ? intent : c->policy);
  const char *q = e->default_queue;
  uint32_t qn = e->default_queue_len;
  int prio = 0;
  int rc = 0;
  eskills sk;
  memset(&sk, 0, sizeof sk);
  if (pol) {
    if (pol->queue_len) {
      q = pol->queue;
      qn = pol->queue_len;
    }
    prio = pol->priority;
    for (unsigned i = 0; !rc && i < pol->skills.n; i++)
      rc = skill_add(&sk, e, pol->skills.name[i], pol->skills.len[i],
                     pol->skills.level[i]);
  }
  /* business rules, in order, every match applies until a stop */
  for (size_t i = 0; !rc && i < e->nrules; i++) {
    const erule *r = &e->rules[i];
    if (!rule_matches(r, c))
      continue;
    if (r->queue_len) {
      q = r->queue;
      qn = r->queue_len;
    }
    prio += r->priority_add;
    for (unsigned k = 0; !rc && k < r->skills.n; k++)
      rc = skill_add(&sk, e, r->skills.name[k], r->skills.len[k],
                     r->skills.level[k]);
    if (r->stop)
      break;
  }
  if (reason == CR_REASON_EMERGENCY)
    prio = CR_ROUTER_MAX_PRIORITY;
  if (prio < 0)
    prio = 0;
  if (prio > CR_ROUTER_MAX_PRIORITY)
    prio = CR_ROUTER_MAX_PRIORITY;
  if (rc) {
    cr__e_skills_free(e, &sk);
    return rc;
  }
  /* after hours / nobody logged in: say so; queue anyway or end */
  int closed = !cr__bot_is_open(e, p->t);
  int noag = e->logged_in == 0;
  int notice = -1;
  if ((closed || noag) && reason != CR_REASON_EMERGENCY) {
    size_t n;
    const char *t = cr__bot_text(
        e, &e->texts[closed ? CR_TEXT_AFTER_HOURS : CR_TEXT_NO_AGENTS], c, &n);
    if ((rc = notice_queue(e, q, qn, &t, &n))) {
      cr__e_skills_free(e, &sk);
      return rc;
    }
    notice = cr__e_plan_say(p, t, n);
    if (!e->keep_queued) {
      cr__e_skills_free(e, &sk);
      static const char d[] = "handoff refused";
      rc = cr__e_plan_add(p, CR_EV_NO_SERVICE,
                          closed ? CR_REASON_AFTER_HOURS
                                 : CR_REASON_NO_AGENTS,
                          intent, conf, notice);
      if (!rc) {
        p->s[p->n - 1].detail = d;
        p->s[p->n - 1].detail_len = sizeof d - 1;
      }
      return rc;
    }
  }
  if (notice < 0) {
    /* an emergency policy's own text ("Help is on the way...") replaces
     * the generic handoff notice */
    const etext *tx = reason == CR_REASON_EMERGENCY && pol && pol->text.n
                          ? &pol->text
                          : &e->texts[CR_TEXT_HANDOFF];
    size_t n;
    const char *t = cr__bot_text(e, tx, c, &n);
    if ((rc = notice_queue(e, q, qn, &t, &n))) {
      cr__e_skills_free(e, &sk);
      return rc;
    }
    notice = cr__e_plan_say(p, t, n);
  }
  rc = cr__e_plan_add(p, ev, reason, intent, conf, notice);
  if (!rc) {
    p->queue = cr__strndup(&e->mem, q, qn);
    if (!p->queue)
      rc = CR_ENOMEM;
  }
  if (rc) {
    cr__e_skills_free(e, &sk);
    return rc;
  }
  if (closed || noag) {
    static const char ah[] = "after hours", na[] = "no agents";
    p->s[p->n - 1].detail = closed ? ah : na;
    p->s[p->n - 1].detail_len = closed ? sizeof ah - 1 : sizeof na - 1;
  }
  p->queue_len = qn;
  p->skills = sk;
  p->priority = prio;
  p->reason = reason;
  p->rop = ROP_ENQUEUE;
  if (reason == CR_REASON_EMERGENCY)
    p->s[p->n - 1].alert = 1;
  return 0;
}

/* {1} {2} -> the two intents' titles, {q} -> nothing (no queue is known
 * yet). Written into the engine's scratch buffer (one composed text per
 * plan). */
static int compose_clarify(cr_engine *e, econv *c, const int32_t opt[2],
                           const char **out, size_t *out_len) {
  size_t tn;
  const char *t = cr__bot_text(e, &e->texts[CR_TEXT_CLARIFY], c, &tn);
  const char *sub[3] = {NULL, NULL, ""};
  size_t subl[3] = {0, 0, 0};
  for (int k = 0; k < 2; k++) {
    const epolicy *pol = policy_of(e, opt[k]);
    sub[k] = pol && pol->title.n ? cr__bot_text(e, &pol->title, c, &subl[k])
                                 : cr__e_label(e, opt[k], &subl[k]);
    if (!sub[k]) {
      sub[k] = "";
      subl[k] = 0;
    }
  }
  return compose(e, &e->sbuf, &e->sbuf_cap, t, tn, sub, subl, out, out_len);
}

static int32_t oos_index(const cr_engine *e) {
  return e->oos_idx; /* looked up once, in cr_engine_new */
}

static int note_intent(cr_engine *e, eplan *p, int32_t idx, double conf) {
  (void)e; /* the metrics key is resolved when the record is made */
  p->set_intent = 1;
  p->intent = idx;
  p->intent_conf = conf;
  return 0;
}

/* An unclear message: clarify, or hand off after max_unclear in a row. */
static int plan_unclear(cr_engine *e, econv *c, const cr_intent_match *m,
                        size_t nm, eplan *p) {
  int u = c->unclear + 1;
  p->unclear = u;
  if ((uint32_t)u >= e->max_unclear)
    return cr__bot_plan_handoff(e, c, CR_EV_FAIL_STREAK,
                                CR_REASON_FAILURE_STREAK, -1, 0, p);
  int32_t oos = oos_index(e);
  int32_t opt[2] = {-1, -1};
  double oc[2] = {0, 0};
  int k = 0;
  for (size_t i = 0; i < nm && k < 2; i++) {
    int32_t li = (int32_t)m[i].label_index;
    if (li == oos || li == e->human_idx)
      continue;
    opt[k] = li;
    oc[k++] = m[i].confidence;
  }
  const char *t;
  size_t tn;
  int rc = compose_clarify(e, c, opt, &t, &tn);
  if (rc)
    return rc;
  p->set_clar = 1;
  p->clar[0] = opt[0];
  p->clar[1] = opt[1];
  p->clar_conf[0] = oc[0];
  p->clar_conf[1] = oc[1];
  return cr__e_plan_add(p, CR_EV_UNCLEAR, CR_REASON_NONE,
                        nm ? (int32_t)m[0].label_index : -1,
                        nm ? m[0].confidence : 0, cr__e_plan_say(p, t, tn));
}

static int say_prompt(cr_engine *e, econv *c, const epolicy *pol,
                      unsigned fi, eplan *p) {
  if (fi >= pol->nfields)
    return -1;
  size_t n;
  const char *t = cr__bot_text(e, &pol->fields[fi].prompt, c, &n);
  return cr__e_plan_say(p, t, n);
}

/* The collected fields as "name=value;name=value" for a bot action, in
 * the engine's scratch buffer (free: a plan with an action composes no
 * other text). */
static int fields_args(cr_engine *e, const econv *c, const char **out,
                       size_t *out_len) {
  const epolicy *fp = policy_of(e, c->fpolicy);
  size_t need = 1;
  for (unsigned i = 0; fp && i < fp->nfields && i < CR_ENGINE_MAX_FIELDS; i++)
    if (c->fval[i])
      need += fp->fields[i].name_len + c->flen[i] + 2;
  if (need > e->sbuf_cap) {
    char *b = cr__realloc(&e->mem, e->sbuf, need);
    if (!b)
      return CR_ENOMEM;
    e->sbuf = b;
    e->sbuf_cap = need;
  }
  size_t o = 0;
  for (unsigned i = 0; fp && i < fp->nfields && i < CR_ENGINE_MAX_FIELDS; i++) {
    if (!c->fval[i])
      continue;
    if (o)
      e->sbuf[o++] = ';';
    memcpy(e->sbuf + o, fp->fields[i].name, fp->fields[i].name_len);
    o += fp->fields[i].name_len;
    e->sbuf[o++] = '=';
    memcpy(e->sbuf + o, c->fval[i], c->flen[i]);
    o += c->flen[i];
  }
  *out = o ? e->sbuf : NULL;
  *out_len = o;
  return 0;
}

/* The intent's policy, from BOT or CLARIFY. */
static int plan_policy(cr_engine *e, econv *c, int32_t li, double conf,
                       eplan *p) {
  const epolicy *pol = policy_of(e, li);
  p->unclear = 0;
  if (note_intent(e, p, li, conf))
    return CR_ENOMEM;
  if (!pol)
    return cr__bot_plan_handoff(e, c, CR_EV_HANDOFF, CR_REASON_POLICY, li,
                                conf, p);
  size_t n;
  const char *t = cr__bot_text(e, &pol->text, c, &n);
  switch (pol->kind) {
  case CR_POLICY_ANSWER: {
    p->helped = 1;
    int rc = cr__e_plan_add(p, CR_EV_ANSWER, CR_REASON_NONE, li, conf,
                            cr__e_plan_say(p, t, n));
    size_t an;
    const char *at = cr__bot_text(e, &e->texts[CR_TEXT_ANYTHING_ELSE], c,
                                  &an);
    if (!rc && an)
      rc = cr__e_plan_add(p, CR_EV_MESSAGE, CR_REASON_NONE, -1, 0,
                          cr__e_plan_say(p, at, an));
    /* the follow-up is a bot line, journalled as a MESSAGE self-loop */
    return rc;
  }
  case CR_POLICY_END:
    return cr__e_plan_add(p, CR_EV_BOT_END, CR_REASON_NONE, li, conf,
                          cr__e_plan_say(p, t, n));
  case CR_POLICY_ACTION: {
    p->set_policy = 1;
    p->policy = li;
    int rc = cr__e_plan_add(p, CR_EV_ACTION, CR_REASON_NONE, li, conf,
                            cr__e_plan_say(p, t, n));
    if (!rc) {
      p->s[p->n - 1].detail = pol->action;
      p->s[p->n - 1].detail_len = pol->action_len;
      p->action = pol->action;
      p->action_len = pol->action_len;
      rc = fields_args(e, c, &p->args, &p->args_len);
    }
    return rc;
  }
  case CR_POLICY_COLLECT: {
    p->set_policy = 1;
    p->policy = li;
    p->clear_fields = 1;
    p->field = 0;
    if (!pol->nfields)
      return cr__bot_plan_handoff(e, c, CR_EV_HANDOFF, CR_REASON_COLLECTED,
                                  li, conf, p);
    int say = cr__e_plan_say(p, t, n);
    int rc = cr__e_plan_add(p, CR_EV_COLLECT, CR_REASON_NONE, li, conf,
                            say >= 0 ? say : say_prompt(e, c, pol, 0, p));
    if (!rc && say >= 0) /* intro text, then the first prompt */
      rc = cr__e_plan_add(p, CR_EV_MESSAGE, CR_REASON_NONE, -1, 0,
                          say_prompt(e, c, pol, 0, p));
    return rc;
  }
  case CR_POLICY_HANDOFF:
    p->set_policy = 1;
    p->policy = li;
    if (n) { /* said before the handoff notice */
      int rc = cr__e_plan_add(p, CR_EV_MESSAGE, CR_REASON_NONE, -1, 0,
                              cr__e_plan_say(p, t, n));
      if (rc)
        return rc;
    }
    return cr__bot_plan_handoff(e, c, CR_EV_HANDOFF, CR_REASON_POLICY, li,
                                conf, p);
  case CR_POLICY_HUMAN:
    return cr__bot_plan_handoff(e, c, CR_EV_HUMAN, CR_REASON_REQUESTED, li,
                                conf, p);
  case CR_POLICY_EMERGENCY:
  default:
    p->set_policy = 1;
    p->policy = li;
    return cr__bot_plan_handoff(e, c, CR_EV_HANDOFF, CR_REASON_EMERGENCY, li,
                                conf, p);
  }
}

/* The outcome of a field's validation: FIELD_OK (then the next prompt or
 * the handoff) or FIELD_BAD (then a re-ask, or a handoff after
 * max_unclear in a row). */
static int plan_field_outcome(cr_engine *e, econv *c, const epolicy *pol,
                              int valid, eplan *p) {
  const efield *f = &pol->fields[c->field];
  p->fpend = 0;
  if (valid) {
    p->field = c->field + 1;
    p->unclear = 0;
    unsigned next = c->field + 1u;
    int rc = cr__e_plan_add(p, CR_EV_FIELD_OK, CR_REASON_NONE, -1, 0,
                            say_prompt(e, c, pol, next, p));
    if (!rc) {
      p->s[p->n - 1].detail = f->name;
      p->s[p->n - 1].detail_len = f->name_len;
    }
    if (!rc && next >= pol->nfields)
      rc = cr__bot_plan_handoff(e, c, CR_EV_HANDOFF, CR_REASON_COLLECTED,
                                c->policy, c->intent_conf, p);
    return rc;
  }
  /* forget the refused value */
  p->fset = 1;
  p->fidx = c->field;
  cr__free(&e->mem, p->fval);
  p->fval = NULL;
  p->flen = 0;
  int u = c->unclear + 1;
  p->unclear = u;
  size_t in;
  const char *it = cr__bot_text(e, &e->texts[CR_TEXT_INVALID], c, &in);
  int rc = cr__e_plan_add(p, CR_EV_FIELD_BAD, CR_REASON_NONE, -1, 0,
                          cr__e_plan_say(p, it, in));
  if (rc)
    return rc;
  p->s[p->n - 1].detail = f->name;
  p->s[p->n - 1].detail_len = f->name_len;
  if ((uint32_t)u >= e->max_unclear)
    return cr__bot_plan_handoff(e, c, CR_EV_FAIL_STREAK,
                                CR_REASON_FAILURE_STREAK, c->policy,
                                c->intent_conf, p);
  /* ask again: the prompt is a bot line journalled as a MESSAGE */
  return cr__e_plan_add(p, CR_EV_MESSAGE, CR_REASON_NONE, -1, 0,
                        say_prompt(e, c, pol, c->field, p));
}

/* A message while collecting: the next field's value. */
static int plan_field(cr_engine *e, econv *c, const char *text, size_t len,
                      eplan *p) {
  const epolicy *pol = policy_of(e, c->policy);
  if (!pol || c->field >= pol->nfields)
    return cr__bot_plan_handoff(e, c, CR_EV_HANDOFF, CR_REASON_COLLECTED,
                                c->policy, c->intent_conf, p);
  const efield *f = &pol->fields[c->field];
  const char *v = text;
  size_t n = len;
  trim(&v, &n);
  int valid = field_valid(e, c, f, v, n);
  if (valid) {
    p->fset = 1;
    p->fidx = c->field;
    p->fval = cr__strndup(&e->mem, v, n);
    p->flen = (uint32_t)n;
    if (!p->fval)
      return CR_ENOMEM;
  }
  if (valid == 2) {
    /* kept, not yet accepted: cr_engine_field_result decides */
    static const char d[] = "validating";
    p->fpend = 1;
    p->s[0].detail = d;
    p->s[0].detail_len = sizeof d - 1;
    return 0;
  }
  return plan_field_outcome(e, c, pol, valid, p);
}

int cr__bot_plan_field_result(cr_engine *e, econv *c, int ok, eplan *p) {
  const epolicy *pol = policy_of(e, c->policy);
  if (c->st != CR_ST_COLLECT || !c->fpending || !pol ||
      c->field >= pol->nfields)
    return cr__e_fail(e, CR_ESTATE, "no field is being validated");
  return plan_field_outcome(e, c, pol, ok ? 1 : 0, p);
}

static int first_rule_handoff(const cr_engine *e, const econv *c) {
  for (size_t i = 0; i < e->nrules; i++) {
    const erule *r = &e->rules[i];
    if (!rule_matches(r, c))
      continue;
    if (r->handoff)
      return 1;
    if (r->stop)
      return 0;
  }
  return 0;
}

int cr__bot_plan_message(cr_engine *e, econv *c, const char *text,
                         size_t len, int first, eplan *p) {
  p->cust = text ? text : "";
  p->cust_len = len;
  p->cust_from = CR_FROM_CUSTOMER;
  int rc = cr__e_plan_add(p, CR_EV_MESSAGE, CR_REASON_NONE, -1, 0, -1);
  if (rc)
    return cr__e_fail(e, rc, "not allowed in the conversation's state");
  int st = c->st;
  if (!cr__handoff_is_bot(st))
    return 0; /* with a human: the transcript is all */
  cr__bot_detect_lang(e, c, p->cust, len, p->lang);
  /* the language decides the texts of this very plan */
  char keep[ELANG];
  memcpy(keep, c->lang, ELANG);
  if (p->lang[0])
    memcpy(c->lang, p->lang, ELANG);
  cr_intent_match m[3];
  size_t nm = 0;
  rc = cr_intent_predict(e->model, p->cust, len, m, 3, &nm);
  if (rc) {
    memcpy(c->lang, keep, ELANG);
    return cr__e_fail(e, rc, "intent prediction failed");
  }
  int32_t oos = oos_index(e);
  int sure = nm && !m[0].out_of_scope && m[0].confidence >= e->clarify_below;
  int32_t top = nm ? (int32_t)m[0].label_index : -1;
  const epolicy *tp = policy_of(e, top);
  int human = nm && (top == e->human_idx ||
                     (tp && tp->kind == CR_POLICY_HUMAN)) &&
              (m[0].rule >= 0 || sure);
  int emergency = nm && tp && tp->kind == CR_POLICY_EMERGENCY &&
                  (m[0].rule >= 0 || sure);
  /* a field answer ("no idea", an address) or a message while an action
   * runs is not a request: its "intent" is noise and stays out of the
   * context, unless it is the human request / emergency honoured there */
  int classify = (st != CR_ST_COLLECT && st != CR_ST_ACTION) || human ||
                 (emergency && st == CR_ST_COLLECT);
  if (classify && nm && (int32_t)m[0].label_index != oos) {
    p->hit_set = 1;
    p->hit.label = (uint32_t)m[0].label_index;
    p->hit.conf = m[0].confidence;
    p->hit.at = p->t;
  }
  if (first && first_rule_handoff(e, c)) {
    rc = nm && sure ? note_intent(e, p, top, m[0].confidence) : 0;
    if (!rc)
      rc = cr__bot_plan_handoff(e, c, CR_EV_HANDOFF, CR_REASON_RULE,
                              sure ? top : -1, sure ? m[0].confidence : 0, p);
  } else if (human) {
    rc = note_intent(e, p, top, m[0].confidence);
    if (!rc)
      rc = cr__bot_plan_handoff(e, c, CR_EV_HUMAN, CR_REASON_REQUESTED, top,
                                m[0].confidence, p);
  } else if (st == CR_ST_ACTION) {
    rc = 0; /* the action runs; only a human request interrupts it */
  } else if (emergency && st == CR_ST_COLLECT) {
    rc = plan_policy(e, c, top, m[0].confidence, p);
  } else if (st == CR_ST_COLLECT) {
    rc = plan_field(e, c, p->cust, len, p);
  } else {
    int32_t pick = -1;
    double pc = 0;
    const char *v = p->cust;
    size_t vn = len;
    trim(&v, &vn);
    if (st == CR_ST_CLARIFY && vn == 1 && (v[0] == '1' || v[0] == '2') &&
        c->clar[v[0] - '1'] >= 0) {
      pick = c->clar[v[0] - '1'];
      pc = c->clar_conf[v[0] - '1'];
    } else if (sure) {
      pick = top;
      pc = m[0].confidence;
    }
    rc = pick >= 0 ? plan_policy(e, c, pick, pc, p)
                   : plan_unclear(e, c, m, nm, p);
  }
  memcpy(c->lang, keep, ELANG);
  if (rc && rc != CR_ENOMEM && !e->err[0])
    cr__e_fail(e, rc, "the bot could not plan this message");
  return rc;
}
