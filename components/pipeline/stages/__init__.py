"""One module per stage body: run(ctx, node, out, inputs) -> result. The graph (pipeline/graph.py) wires them."""
