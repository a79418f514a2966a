print("watch-bench")
