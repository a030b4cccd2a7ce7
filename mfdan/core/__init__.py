"""Shared pieces every phase may use and that use no phase: the params registry, errors, device choice,
the ordered process map, HDF5 rows, file hashes and temporary names, the image convention, the stage runner."""
