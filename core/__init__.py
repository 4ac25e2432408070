"""Domain logic that more than one process uses, with no Kafka or Redis code.

The dispatcher, the scorer and the app's direct path all call these modules, so
a provider attempt, its cost, the prompt, the confidence score and the response
with its explanation are computed one way wherever they happen:

- `prompt`: what every model is asked, the context as text, token estimates from text
- `attempt`: one call to one model, bounded in time, with cost and outcome
- `confidence` (+ `sources`, `agreement`): the score and its components
- `calibration` (+ `calibration_metrics`): the calibration fit from graded answers, and
  the measures of a confidence score (ECE, AUROC, Brier, log loss), used by the audit's
  `calibrate` and by the evaluation alike
- `response`: the response a strategist sees, with the routing explanation
"""
