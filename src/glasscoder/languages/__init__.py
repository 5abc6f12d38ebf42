"""What glasscoder knows about programming languages: detection, tools, diagnostics, tests."""
