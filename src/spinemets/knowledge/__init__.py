"""Clinical knowledge as data: the histology catalogue and the reference list.

>>> from spinemets.knowledge import reference_list
>>> reference_list()["bauer_1995"].pmid
'7740944'
"""

from spinemets.knowledge._references import Reference, reference_list

__all__ = ["Reference", "reference_list"]
