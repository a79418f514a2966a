// The GatherSpool library; see the README for what lives here.
