"""The pipeline: a stage graph declared once (graph.py), one body per stage (stages/), keys made of what each
stage really reads (keys.py, context.py), one cache for stages and study trials (cache.py), the node runner every
orchestrator calls (runner.py) and DVC's view of the graph (dvc.py)."""
