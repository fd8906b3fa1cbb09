"""Operating the model, off the serving path: promotion, reports, drift, bulk scoring.

``make promote``/``rollback`` (promote.py, with the gate's checks in gate.py and the
real-server check in infra.py, which starts servers with servers.py),
``make model-card`` (model_card.py), ``make shadow-report`` (shadow_report.py),
``make drift`` (drift.py) and ``make spark-score`` (spark_score.py). Nothing here
imports the test harness; ``devtools`` imports ``ops.servers``.
"""
