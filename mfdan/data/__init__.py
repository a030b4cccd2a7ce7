"""Raw datasets → sample index: native CASME II / SAMM / SMIC-HS readers, coding sheets, protocols, the sample
record, dataset validation, the shipped reference lists (``resources/``), and the ``index`` stage."""
