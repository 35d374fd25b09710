import enum
import unittest
from dataclasses import dataclass, field
from typing import Literal, Optional

import support  # noqa: F401
from sluice_sdk import ConfigError, parse_config


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Inner:
    formats: list[Literal["YYYY-MM-DD", "DD/MM/YYYY"]] = field(default_factory=lambda: ["YYYY-MM-DD"])
    invalid: Literal["null", "reject"] = "null"


@dataclass
class Config:
    columns: dict[str, Inner]
    width: int = 5
    ratio: float = 0.5
    name: Optional[str] = None
    color: Color = Color.RED
    flags: list[bool] = field(default_factory=list)
    dashed: str = field(default="x", metadata={"json": "dashed-key"})


class ConfigTest(unittest.TestCase):
    def read(self, text, into=Config, **kw):
        return parse_config(text, into, **kw)

    def test_reads_nested_dataclasses_with_defaults(self):
        c = self.read('{"columns": {"a": {"formats": ["DD/MM/YYYY"]}, "b": {}}, "ratio": 2, "color": "blue", "dashed-key": "y"}')
        self.assertEqual(c.columns["a"].formats, ["DD/MM/YYYY"])
        self.assertEqual(c.columns["b"], Inner())
        self.assertEqual((c.width, c.ratio, c.name, c.color, c.dashed), (5, 2.0, None, Color.BLUE, "y"))

    def test_errors_name_the_key(self):
        cases = {
            "{}": "invalid plugin config: missing field `columns`",
            '{"columns": {}, "wdith": 1}': "invalid plugin config: unknown field `wdith`, expected one of `columns`, `width`",
            '{"columns": {"a": {"formats": ["YYYY/MM/DD"]}}}': "invalid plugin config: columns.a.formats[0]: unknown variant `YYYY/MM/DD`, expected one of `YYYY-MM-DD`, `DD/MM/YYYY`",
            '{"columns": {}, "width": "5"}': 'invalid plugin config: width: invalid type: string "5", expected an integer',
            '{"columns": {}, "width": 5.5}': "invalid plugin config: width: invalid type: floating point `5.5`, expected an integer",
            '{"columns": {}, "width": true}': "invalid plugin config: width: invalid type: boolean `true`, expected an integer",
            '{"columns": []}': "invalid plugin config: columns: invalid type: sequence, expected a map",
            '{"columns": {}, "color": "green"}': "invalid plugin config: color: unknown variant `green`, expected one of `red`, `blue`",
            "{nope": "invalid plugin config: Expecting property name enclosed in double quotes",
        }
        for text, message in cases.items():
            with self.assertRaises(ConfigError, msg=text) as caught:
                self.read(text)
            self.assertTrue(str(caught.exception).startswith(message), f"{text}: {caught.exception}")

    def test_unknown_keys_may_be_allowed_and_empty_is_an_empty_object(self):
        self.assertEqual(self.read('{"columns": {}, "extra": 1}', ignore_unknown_keys=True).width, 5)
        self.assertEqual(parse_config("  ", None), {})
        self.assertEqual(parse_config('{"a": [1]}', dict[str, list[int]]), {"a": [1]})


if __name__ == "__main__":
    unittest.main()
