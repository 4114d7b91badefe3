"""From a raw table to normalised submissions: header matching and cell parsing, the school registry, the
analyst's corrections."""
