"""`glasscoder review`: bugs found by the project's analyzers and, when configured, a model.

finding.py (the one finding type), static_layer.py, model_layer.py (+ prompt.md), quotes.py
(a model's quote checked against the file), diffscope.py (--diff), merge.py, report.py and
sarif.py (outputs), runner.py (one review, end to end).
"""
