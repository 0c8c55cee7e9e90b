"""CT-derived SINS suggestions: measure each vertebra from a CT and its vertebra masks.

Segmentation is a step run elsewhere (TotalSegmentator and similar tools); spinemets takes the
CT and the masks those tools write, finds each vertebra by its label NAME, measures its body
(heights at 15 / 50 / 85 % of the antero-posterior depth, volume, HU), compares each level with
its neighbours, and suggests SINS components with their measurements and a confidence, for a
clinician to confirm. Nothing here overwrites a value a clinician entered.

Needs the ``imaging`` extra (numpy, scipy, nibabel, pydicom, highdicom, Pillow); importing this
package does not import them, they are loaded when a measurement runs.
"""

from spinemets.imaging._document import FORMAT, measure_files, measure_volumes
from spinemets.imaging._labels import VERTEBRA_ORDER, label_map_from_json, level_of
from spinemets.imaging._volume import Volume, canonical

__all__ = [
    "FORMAT",
    "VERTEBRA_ORDER",
    "Volume",
    "canonical",
    "label_map_from_json",
    "level_of",
    "measure_files",
    "measure_volumes",
]
