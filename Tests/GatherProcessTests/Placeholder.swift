// Tests of GatherProcess.
