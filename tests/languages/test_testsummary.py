"""Test output summaries on recorded outputs (real pytest, node and cargo runs: tests/tools)."""

from glasscoder.languages.testsummary import HEAD, MAX_FAILURES, TAIL, summarise

JEST = """\
FAIL src/calc.test.js
  calc
    ✓ adds (2 ms)
    ✕ subtracts (3 ms)

  ● calc › subtracts

    expect(received).toBe(expected) // Object.is equality

    Expected: 1
    Received: 5

      at Object.toBe (src/calc.test.js:9:24)

Test Suites: 1 failed, 1 total
Tests:       1 failed, 1 passed, 2 total
Snapshots:   0 total
Time:        0.512 s
"""

VITEST = """\
 FAIL  src/calc.test.ts > calc > subtracts
AssertionError: expected 5 to be 1 // Object.is equality
 ❯ src/calc.test.ts:9:22

 Test Files  1 failed (1)
      Tests  1 failed | 1 passed (2)
"""

MAVEN = (
    "[ERROR] Tests run: 2, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.03 s "
    "<<< FAILURE! -- in CalcTest\n"
    "[ERROR] CalcTest.testAdd -- Time elapsed: 0.01 s <<< FAILURE!\n"
    "[ERROR] Failures: \n"
    "[ERROR]   CalcTest.testAdd:12 expected: <5> but was: <-1>\n"
    "[ERROR] Tests run: 2, Failures: 1, Errors: 0, Skipped: 0\n"
)

GRADLE = """\
> Task :test FAILED

CalcTest > testAdd() FAILED
    org.opentest4j.AssertionFailedError at CalcTest.java:12

2 tests completed, 1 failed
"""

GO = """\
--- FAIL: TestAdd (0.00s)
    calc_test.go:8: add(2, 3) = -1, want 5
FAIL
FAIL\texample.com/calc\t0.002s
ok  \texample.com/util\t0.001s
"""

CTEST = """\
1/2 Test #1: adds .............................***Failed    0.01 sec
2/2 Test #2: zero .............................   Passed    0.01 sec

50% tests passed, 1 tests failed out of 2

The following tests FAILED:
\t  1 - adds (Failed)
"""

NODE_SPEC = """\
✔ adds (0.5ms)
✖ subtracts (1.2ms)
ℹ tests 2
ℹ pass 1
ℹ fail 1

✖ failing tests:

test at math.test.js:4:1
✖ subtracts (1.2ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
"""


def test_jest():
    text = summarise("jest", JEST, 1).splitlines()
    assert text[0] == "FAILED: 1 failed, 1 passed (exit code 1)"
    assert text[1] == "FAIL calc › subtracts"
    assert "Expected: 1" in "\n".join(text[2:])


def test_vitest():
    text = summarise("jest", VITEST, 1)
    assert text.startswith("FAILED: 1 failed, 1 passed")
    assert "FAIL src/calc.test.ts > calc > subtracts" in text
    assert "expected 5 to be 1" in text


def test_maven_surefire():
    text = summarise("surefire", MAVEN, 1).splitlines()
    assert text[0] == "FAILED: 1 passed, 1 failed (exit code 1)"
    assert text[1:3] == ["FAIL CalcTest.testAdd:12", "    expected: <5> but was: <-1>"]


def test_gradle():
    text = summarise("surefire", GRADLE, 1).splitlines()
    assert text[0] == "FAILED: 1 passed, 1 failed (exit code 1)"
    assert text[1] == "FAIL CalcTest > testAdd()"
    assert "AssertionFailedError at CalcTest.java:12" in text[2]


def test_go():
    text = summarise("go-test", GO, 1).splitlines()
    assert text[:2] == ["FAILED: 1 failed (exit code 1)", "FAIL TestAdd"]
    assert text[2] == "    calc_test.go:8: add(2, 3) = -1, want 5"


def test_ctest():
    text = summarise("ctest", CTEST, 8).splitlines()
    assert text == ["FAILED: 1 passed, 1 failed (exit code 8)", "FAIL adds"]


def test_node_spec_reporter():
    text = summarise("node-test", NODE_SPEC, 1).splitlines()
    assert text[:2] == ["FAILED: 1 passed, 1 failed (exit code 1)", "FAIL subtracts"]


def test_passing_run_is_one_line():
    assert summarise("pytest", "....\n4 passed in 0.10s\n", 0) == "PASSED: 4 passed (exit code 0)"


def test_unknown_output_is_head_and_tail():
    output = "".join(f"line {i}\n" for i in range(200))
    text = summarise("generic", output, 2).splitlines()
    assert text[0] == "FAILED (exit code 2)"
    assert text[1] == "line 0" and text[-1] == "line 199"
    assert len(text) == 1 + HEAD + 1 + TAIL and "lines not shown" in text[1 + HEAD]


def test_timeout_is_said():
    assert summarise("pytest", "....", None).startswith("TIMED OUT (exit code None)")


def test_many_failures_are_capped():
    output = "".join(f"--- FAIL: Test{i} (0.00s)\n    x_test.go:{i}: bad\n" for i in range(40))
    text = summarise("go-test", output, 1).splitlines()
    assert sum(line.startswith("FAIL ") for line in text) == MAX_FAILURES
    assert text[-1] == f"... and {40 - MAX_FAILURES} more failing tests"
