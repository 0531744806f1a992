"""The generated config reference is current."""

from sim.output.config_reference import config_reference_markdown


def test_config_reference_is_generated_from_declarations(root):
    committed = (root / "docs" / "config_reference.md").read_text()
    assert committed.strip() == config_reference_markdown().strip(), \
        "regenerate: python -m sim.output.config_reference > docs/config_reference.md"
