print("gather-bench: not yet")
