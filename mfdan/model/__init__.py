"""MFDAN, the network (Sec. III), one module per paper concept: ``network`` (MFDAN, MFDANConfig), ``windows``,
``flow_driven_attention`` (Eqs. 9–15), ``dropkey`` (Eq. 12), ``flow_driven_block`` (Eqs. 4–7),
``patch_embedding`` (Eq. 8, patch merging), ``flow_encoder`` (SSSN-style optical-flow encoder).

``from mfdan.model import MFDAN, MFDANConfig``; ``python -m mfdan.model`` prints the parameter breakdown.
"""
from mfdan.model.network import MFDAN, MFDANConfig

__all__ = ["MFDAN", "MFDANConfig"]
