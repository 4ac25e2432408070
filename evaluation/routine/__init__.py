"""The graded routine set (data/routine/): routine strategist tasks, each with checks a
program applies, and `python -m evaluation.routine`, which measures how often each
model's answer to them is usable, per kind of task (issue 19, section 1).

- `tasks`: the task files, loaded and validated (pydantic);
- `measures` and `language`: what the checks read off an answer (words, items,
  numbers, names, edit ratio, language);
- `grading`: the checks, pure: a task and an answer in, usable or not with reasons out;
- `capability`: usable rates per model and kind, and the file the router will read;
- `local_run`: the configured local model asked for real, as production asks it.
"""
