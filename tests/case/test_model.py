"""The spinemets-case/1 model: unknown stays unknown; one clear message per bad field."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.rules.conftest import vignettes

import spinemets.case as case_pkg
from spinemets.case import load_case
from spinemets.errors import CaseFormatError


def test_every_vignette_loads() -> None:
    for v in vignettes():
        assert load_case(v["case"]).format == "spinemets-case/1"


def test_empty_case_is_all_unknown() -> None:
    case = load_case({})
    assert case.performance.kps is None and case.lesions == ()
    assert case.fitness.fit_for_open_surgery is None


def test_unknown_string_is_unknown_not_absent() -> None:
    case = load_case({"symptoms": {"limb_weakness": "unknown"}, "cancer": {"status": "unknown"}})
    assert case.symptoms.limb_weakness is None
    assert case.cancer.status == "unknown"


def test_yaml_yes_is_read_as_yes(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("format: spinemets-case/1\nfitness: {fit_for_open_surgery: yes}\n"
                    "cancer: {diagnosis_date: 2023-02-01}\nlesions: [{levels: [t12], escc: 2}]\n")
    case = load_case(str(path))
    assert case.fitness.fit_for_open_surgery == "yes"
    assert case.lesions[0].levels == ("T12",)
    assert case.lesions[0].escc == "2"


def test_bad_case_one_message_per_problem() -> None:
    bad = {"format": "spinemets-case/1", "performance": {"kps": 55, "ecog": True},
           "cancer": {"primary": "kidnee", "hormone_dependent": "yes"},
           "lesions": [{"levels": ["T13", "L2"], "escc": "4", "surprise": 1}],
           "labs": {"albumin": {"value": 32, "unit": "g/dL"}},
           "patient": {"age_years": "sixty"}}
    with pytest.raises(CaseFormatError) as info:
        load_case(bad)
    fields = {p.field: p for p in info.value.problems}
    assert set(fields) == {"performance.kps", "performance.ecog", "cancer.primary",
                           "cancer.hormone_dependent", "lesions[0].levels[0]", "lesions[0].escc",
                           "lesions[0].surprise", "labs.albumin.value", "patient.age_years"}
    assert "steps of 10" in fields["performance.kps"].message
    assert "kidney" in fields["cancer.primary"].allowed
    assert fields["lesions[0].levels[0]"].value == "T13"
    assert len(info.value.problems) == len(fields)


@pytest.mark.parametrize(("data", "field"), [
    ({"performance": {"kps": 1.0}}, "performance.kps"),
    ({"performance": {"ecog": 6}}, "performance.ecog"),
    ({"disease": {"extraspinal_bone_metastases": -1}}, "disease.extraspinal_bone_metastases"),
    ({"lesions": [{"levels": []}]}, "lesions[0].levels"),
    ({"format": "spinemets-case/2"}, "format"),
    ({"disease": 5}, "disease"),
    ({"neurology": {"frankel": "F"}}, "neurology.frankel"),
])
def test_impossible_values_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(CaseFormatError) as info:
        load_case(data)
    assert [p.field for p in info.value.problems] == [field]


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaseFormatError):
        load_case([1, 2])  # type: ignore[arg-type]
    with pytest.raises(CaseFormatError) as info:
        load_case(str(tmp_path / "missing.json"))
    assert info.value.problems[0].field == "file"


def test_public_api() -> None:
    assert "load_case" in case_pkg.__all__ and "assess" in case_pkg.__all__


def test_non_utf8_file_names_the_file_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("format: spinemets-case/1\ncancer: {primary: k\xe9}\n".encode("latin-1"))
    with pytest.raises(CaseFormatError) as info:
        load_case(str(path))
    (problem,) = info.value.problems
    assert problem.field == "file"
    assert "latin1.yaml is not UTF-8" in problem.message
    assert "byte 0xe9 at byte offset 44" in problem.message


def test_number_too_long_for_python_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('{"performance": {"kps": ' + "9" * 5000 + "}}")
    with pytest.raises(CaseFormatError) as info:
        load_case(str(path))
    assert info.value.problems[0].field == "file"


@pytest.mark.parametrize(("data", "field"), [
    ({"cancer": {"primary": "x" * 5_000_000}}, "cancer.primary"),
    ({"cancer": {"status": "y" * 10_000}}, "cancer.status"),
    ({"lesions": [{"levels": ["z" * 10_000]}]}, "lesions[0].levels[0]"),
    ({"format": "w" * 10_000}, "format"),
])
def test_oversized_values_are_echoed_cut_to_80_characters(data: dict[str, object],
                                                          field: str) -> None:
    with pytest.raises(CaseFormatError) as info:
        load_case(data)
    (problem,) = info.value.problems
    assert problem.field == field
    shown = problem.to_dict()
    assert len(str(shown.get("value", ""))) < 140
    assert len(shown["message"]) < 400
    assert "truncated" in str(shown.get("value", "")) + shown["message"]


def test_problem_detail_truncation_is_central_and_idempotent() -> None:
    from spinemets.errors import ECHO_LIMIT, InputError, ProblemDetail  # noqa: PLC0415

    long = "q" * 1000
    problem = ProblemDetail("field", f"{long!r} is wrong", long)
    assert problem.value.startswith("q" * ECHO_LIMIT)
    assert "[truncated: 1,000 characters in all]" in problem.value
    assert "[truncated: 1,002 characters in all]" in problem.message
    again = InputError([problem]).prefixed("x.").problems[0]
    assert again.value == problem.value and again.message == problem.message
    assert ProblemDetail("f", "short", 5).value == 5
