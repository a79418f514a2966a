// The GatherProcess library; see the README for what lives here.
