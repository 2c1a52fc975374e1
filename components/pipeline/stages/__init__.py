"""One module per stage body: run(ctx, node, out, inputs) -> its result (pipeline/results.py). The graph
(pipeline/graph.py) wires them; nothing else imports them."""
