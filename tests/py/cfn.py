"""Reads template.yaml as data, CloudFormation short-form tags included (!Ref, !Sub, !If, ...).

Shared by the template tests (which assert what the template says) and the fault-injection
test (which runs the function with the event source mapping settings the template deploys).
Each tag becomes its long form: `!Ref X` is {"Ref": "X"}, `!If [...]` is {"Fn::If": [...]}.
"""

from pathlib import Path

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that reads CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _cfn_tag(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path = TEMPLATE) -> dict:
    """The template as plain data, intrinsic functions in their long form."""
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)
