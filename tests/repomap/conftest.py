"""A small Python repository whose relevant files are known, written for each test."""

from pathlib import Path

import pytest

FILES = {
    "billing/invoice.py": (
        "from billing.tax import TaxTable\n\n\n"
        "def compute_invoice_total(lines, table: TaxTable):\n"
        "    return sum(table.rate_for(line) for line in lines)\n"
    ),
    "billing/tax.py": ("class TaxTable:\n    def rate_for(self, line):\n        return 0.2\n"),
    "ui/widgets.py": (
        "class ButtonWidget:\n    def render_button(self):\n        return draw_frame()\n\n\n"
        "def draw_frame():\n    return '[]'\n"
    ),
    "ui/theme.py": "from ui.widgets import ButtonWidget\n\nDARK_THEME = ButtonWidget()\n",
    "reports/monthly.py": (
        "from billing.invoice import compute_invoice_total\n\n\n"
        "def monthly_report(invoices):\n"
        "    return [compute_invoice_total(i, None) for i in invoices]\n"
    ),
}


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root, FILES)
    return root
