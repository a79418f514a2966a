// The GatherJournal library; see the README for what lives here.
