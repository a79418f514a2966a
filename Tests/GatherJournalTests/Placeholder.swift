// Tests of GatherJournal.
