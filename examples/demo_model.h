/* The demo intent model for the example programs: load a saved one, or
 * train it from the demo set (ecf_train_demo) and optionally save it, so a
 * test can train once and hand the file to every later run (cr-chat,
 * cr-sim's scenario mode; cr-replay does the same with its own copy).
 *
 * SPDX-License-Identifier: MIT */
#ifndef CR_DEMO_MODEL_H
#define CR_DEMO_MODEL_H

#include "convroute.h"

#include <stddef.h>

/* model_path non-NULL: load it (cr_intent_model_load). Otherwise train
 * from data_dir and, with save_path non-NULL, write it there. 0, or -1
 * with a sentence in err. */
int dm_model_get(const char *data_dir, const char *model_path,
                 const char *save_path, cr_intent_model **out, char *err,
                 size_t cap);

/* Where the demo data lives (demo_bot.conf, the intent sets, the sample
 * scenarios): the source tree's examples/data when the program runs from
 * a build, else the installed copy (<prefix>/share/convroute), so an
 * installed tool works with no checkout. --data DIR overrides both. */
const char *dm_data_dir(void);

#endif
