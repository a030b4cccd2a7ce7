"""Native readers of the long-video datasets (mfdan.data.long_records): CAS(ME)² and the SAMM long videos."""
