"""How callers build an argv item: fixed text kept, one expression per varying part."""

from __future__ import annotations

import pytest

from leastpriv.migrate.templates import Expr, literal_text, parse, split_literal


@pytest.mark.parametrize(("source", "parts"), [
    ("'of=%s' % volume_file", ("of=", "volume_file")),
    ("'bs=%d' % units.Mi", ("bs=", "units.Mi")),
    ("'%s/%s' % (self.vg_name, name)", ("self.vg_name", "/", "name")),
    ("'if=%(path)s' % {'path': path}", ("if=", "path")),
    ("'/dev/' + portal.controller", ("/dev/", "portal.controller")),
    ("f'target={iqn}'", ("target=", "iqn")),
    ("'s@{}@{}@'.format(device_path, device_uuid)",
     ("s@", "device_path", "@", "device_uuid", "@")),
    ("':'.join((parsed_host, local_path))", ("parsed_host", ":", "local_path")),
    ("str(owner_uid)", ("owner_uid",)),
    ("'%sG' % size", ("size", "G")),
])
def test_fixed_text_and_expressions_are_told_apart(source, parts):
    parsed = parse(source)
    assert parsed == parts
    assert all(isinstance(p, Expr) == (p not in ("of=", "bs=", "/", "if=", "/dev/", "target=",
                                                  "s@", "@", ":", "G")) for p in parsed)


@pytest.mark.parametrize("source", [
    "'%05d' % number",  # a width: not a plain substitution
    "'%s %s' % args",  # a tuple the source does not show
])
def test_what_is_not_understood_is_one_expression(source):
    assert parse(source) == (source,) and isinstance(parse(source)[0], Expr)


def test_a_literal_splits_into_the_values_of_a_shape():
    shape = literal_text(parse("'of=%s' % volume_file"))
    assert split_literal("of=/dev/null", shape) == ["/dev/null"]
    assert split_literal("if=/dev/zero", shape) is None
    two = literal_text(parse("'%s/%s' % (vg, lv)"))
    assert split_literal("cinder-volumes/volume-1", two) == ["cinder-volumes", "volume-1"]


def test_a_sum_without_fixed_text_has_only_expressions():
    assert all(isinstance(part, Expr) for part in parse("cmd_prefix + args"))
