// Tests of GatherSpool.
