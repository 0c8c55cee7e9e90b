"""FHIR R4 adapter: import a Bundle into a ``spinemets-case/1`` case, export scores and plan.

Codes come only from ``terminology.yaml`` (the project's checked interop list) and the project
CodeSystem (score slugs, components, bands, case items: generated from the registry and the case
model). FHIR JSON is checked with the R4B models of ``fhir.resources`` (the ``fhir`` extra).

An export keeps when each value was measured; a value whose time is unknown is exported
undated, and a re-import uses it only when the clinician accepts it:

>>> from spinemets.fhir import export_case, import_bundle
>>> bundle = export_case({"format": "spinemets-case/1", "performance": {"ecog": 1}})
>>> import_bundle(bundle).case.performance.ecog is None
True
>>> import_bundle(bundle, accept_stale=True).case.performance.ecog
1
"""

from spinemets.fhir._codes import case_items, project_concepts, terminology
from spinemets.fhir._export import code_system, export_case, software_version, tables_hash
from spinemets.fhir._import import ImportResult, Mapped, Reason, Unused, Windows, import_bundle
from spinemets.fhir._read import BundleFormatError
from spinemets.fhir._synth import AS_OF, SynthBundle, synth_bundles

__all__ = [
    "AS_OF",
    "BundleFormatError",
    "ImportResult",
    "Mapped",
    "Reason",
    "SynthBundle",
    "Unused",
    "Windows",
    "case_items",
    "code_system",
    "export_case",
    "import_bundle",
    "project_concepts",
    "software_version",
    "synth_bundles",
    "tables_hash",
    "terminology",
]
