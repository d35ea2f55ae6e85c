"""The manager's sandbox at its exact limits, through the real executor.

tests/integration/test_manager_sandbox.py shows hostile payloads are stopped; this file pins
WHERE they are stopped and that ordinary code still runs: an operation producing exactly the
limit runs, one item more is refused with the guard's own message; augmented assignment is
guarded like the plain operator; f-strings, `str()`, `format` and `print` are bounded; every
amplifying str method is checked before it allocates, with the arguments Python itself takes;
the print buffer and the team members' plumbing behave as documented.

Each code step runs through a real `SafeExecutor`: in its child process, smolagents'
LocalPythonExecutor behind `code_guard.guard_code`, fed as smolagents' `run()` feeds it, with a
small tool and a small agent as its team, run by the server side (no model, no store: the
sandbox is what is under test). Each test that takes `executor` runs a second time with the
child's half in this process (tests/sandbox_helpers.InProcessSandbox, the way the mutation run
reaches it): both must give the same answers. tests/integration/test_manager_sandbox_child.py
tests the process around it: limits held from outside, crashes, stray processes.
"""

from __future__ import annotations

import re
import threading

import pytest
from smolagents import FinalAnswerTool, Tool
from smolagents.local_python_executor import InterpreterError

from agents.code_guard import MAX_INT_BITS, MAX_ITEMS, MAX_RENDER, CodeRefused, guard_code, rendered_size
from agents.safe_executor import SafeExecutor
from tests.sandbox_helpers import Broken, Echo, Helper, InProcessSandbox
from agents.sandbox.channel import MAX_FINAL, MAX_OBSERVATION, MAX_PLAIN_DEPTH, plain
from agents.sandbox.interpreter import MAX_PRINT

SIZE = "over the sandbox's limit"
RENDER = f"a value rendering to over {MAX_RENDER:,} characters cannot be printed or formatted"


def text(n: int) -> str:
    """Code for a string of n characters the guards let through (each repeated item renders to 2
    characters more than its length, so a one-character string may be repeated only ~666,666 times)."""
    return f"('ab' * {n // 2} + 'a' * {n % 2})"


def over(what: str) -> str:
    """The message a size guard raises for `what`."""
    return f"{what}: over the sandbox's limit ({MAX_ITEMS:,} items, {MAX_INT_BITS:,}-bit integers)"


@pytest.fixture
def team():
    return {"final_answer": FinalAnswerTool(), "echo": Echo(), "broken": Broken(), "helper": Helper()}


# Each executor fixture runs its tests in a real child and in this process.
BOTH_WAYS = [pytest.param("child", marks=pytest.mark.child_process), "in_process"]


def make(kind: str):
    # Generous: these steps compute up to a million items, on a machine maybe under load.
    return SafeExecutor(step_seconds=20.0) if kind == "child" else InProcessSandbox()


@pytest.fixture(params=BOTH_WAYS)
def executor(request, team):
    ex = make(request.param)
    ex.send_variables(variables={})
    ex.send_tools(team)
    yield ex
    ex.close()


@pytest.fixture(params=BOTH_WAYS)
def bare(request):
    """An executor sent no tools and no variables yet."""
    ex = make(request.param)
    yield ex
    ex.close()


def run(executor, code: str):
    """The step's output; fails the test if the step does not run."""
    return executor(code).output


def refused(executor, code: str) -> str:
    """The error message of a step that must fail."""
    with pytest.raises(InterpreterError) as info:
        executor(code)
    return str(info.value)


# --- plain operators: exact limits ---------------------------------------------------------------


def test_operators_the_guard_does_not_bound_still_work(executor):
    assert run(executor, "[7 - 2, 7 // 2, 7 / 2, 6 & 3, 6 | 1, 6 ^ 3, 256 >> 2]") == [5, 3, 3.5, 2, 7, 5, 64]


def test_mixed_float_and_sequence_operands_are_not_mistaken_for_sequences(executor):
    code = "[2.5 * 2, 2 * 2.5, 0.5 + 1, 1 + 0.5, 'ab' * 2, 2 * [1], (1,) + (2,), 7 % 4]"
    assert run(executor, code) == [5.0, 5.0, 1.5, 1.5, "abab", [1, 1], [1, 2], 3]


def test_integer_multiplication_counts_the_bits_of_both_factors(executor):
    assert run(executor, f"x = 1 << {MAX_INT_BITS // 2 - 1}\n(x * x).bit_length()") == MAX_INT_BITS - 1
    assert over("the integer * operation") in refused(executor, f"x = 1 << {MAX_INT_BITS // 2}\nx * x")


def test_integer_addition_is_bounded_by_its_largest_operand(executor):
    code = f"x = 1 << {MAX_INT_BITS - 1}\ny = x + x\n"
    assert run(executor, code + "y.bit_length()") == MAX_INT_BITS + 1  # operands at the limit: allowed
    assert over("the integer + operation") in refused(executor, code + "y + 1")


def test_small_integer_additions_are_not_priced_like_powers(executor):
    assert run(executor, "((1 << 1000) + 2000) - (1 << 1000)") == 2000
    assert run(executor, "[2 ** 10, 2 ** 0, 1 ** 5, (-1) ** 3, 2 ** -1]") == [1024, 1, 1, -1, 0.5]


def test_powers_are_priced_by_base_bits_times_exponent(executor):
    # 2 has 2 bits: 2 ** n is priced at 2n bits, whatever its real size
    assert run(executor, f"(2 ** {MAX_INT_BITS // 2}).bit_length()") == MAX_INT_BITS // 2 + 1
    assert over("the integer ** operation") in refused(executor, f"2 ** {MAX_INT_BITS // 2 + 1}")
    assert over("the integer ** operation") in refused(executor, f"(-2) ** {MAX_INT_BITS // 2 + 1}")
    # a base of 1, 0 or -1 never grows, whatever the exponent
    assert run(executor, f"[1 ** {10 * MAX_INT_BITS}, (-1) ** {10 * MAX_INT_BITS + 1}, 0 ** {10 * MAX_INT_BITS}]") == [1, -1, 0]


def test_an_operand_already_over_the_limit_is_refused_even_when_the_result_is_small(executor):
    code = f"x = 1 << {MAX_INT_BITS - 1}\ny = x + x\n"  # 1,000,001 bits
    assert over("the integer ** operation") in refused(executor, code + "y ** 0")
    assert over("the integer << operation") in refused(executor, code + "y << 0")
    assert run(executor, f"((1 << {MAX_INT_BITS - 1}) << 0).bit_length()") == MAX_INT_BITS


def test_shift_and_power_limits(executor):
    assert run(executor, f"(1 << {MAX_INT_BITS - 1}).bit_length()") == MAX_INT_BITS
    assert over("the integer << operation") in refused(executor, f"1 << {MAX_INT_BITS}")
    assert over("the integer ** operation") in refused(executor, f"3 ** {MAX_INT_BITS // 2 + 1}")


def test_repeating_a_sequence_is_allowed_up_to_the_limit(executor):
    assert run(executor, f"len('ab' * {MAX_ITEMS // 2})") == MAX_ITEMS
    assert over("repeating a sequence") in refused(executor, f"'ab' * {MAX_ITEMS // 2 + 1}")
    assert over("repeating a sequence") in refused(executor, f"{MAX_ITEMS // 2 + 1} * 'ab'")


def test_repeating_is_also_bounded_by_what_the_result_renders_to(executor):
    # ['ab' * n] renders to 2n + 6 characters: twice that is exactly MAX_RENDER for n = 499,997
    n = (MAX_RENDER // 2 - 6) // 2
    assert run(executor, f"x = ['ab' * {n}]\nlen(x * 2)") == 2
    assert over("repeating a sequence") in refused(executor, f"x = ['ab' * {n} + 'a']\nx * 2")
    assert over("repeating a sequence") in refused(executor, "s = 'a' * 500000\n[s] * 4")


def test_repeating_twice_is_checked_once_or_never_is_not(executor):
    assert over("repeating a sequence") in refused(executor, f"s = 'ab' * {MAX_ITEMS // 4 + 1}\ns * 2")
    assert over("repeating a sequence") in refused(executor, f"s = 'ab' * {MAX_ITEMS // 4 + 1}\n2 * s")
    # a value already too large to render may still be repeated once or no time
    code = "s = 'a' * 500000\nx = [s, s, s, s, s]\n"
    assert run(executor, code + "[len(x * 1), len(x * 0), len(x * -1)]") == [5, 0, 0]


def test_concatenation_is_allowed_up_to_the_limit(executor):
    assert run(executor, f"s = 'a' * {MAX_ITEMS // 2}\nlen(s + s)") == MAX_ITEMS
    assert over("concatenating") in refused(executor, f"s = 'a' * {MAX_ITEMS // 2}\ns + s + 'b'")


# --- augmented assignment is guarded like the plain operator -------------------------------------


def test_augmented_assignment_still_computes(executor):
    code = "x = 3\nx += 4\nx *= 2\nx -= 1\nx **= 2\nx <<= 1\nx %= 100\nx //= 3\ns = 'a'\ns += 'b'\ns *= 2\nl = [1]\nl += [2]\n[x, s, l]"
    assert run(executor, code) == [12, "abab", [1, 2]]


def test_augmented_assignment_to_items_reads_the_target_back(executor):
    code = "d = {'k': 1, 'n': [1, 2]}\nd['k'] += 2\nd['n'][0] *= 5\nd['n'][-1] **= 3\nd"
    assert run(executor, code) == {"k": 3, "n": [5, 8]}


def test_augmented_assignment_is_rewritten_into_the_guard():
    assert guard_code("x += y").strip() == "x = guarded_binop('+', x, y)"
    assert guard_code("d['k'] **= 2").strip() == "d['k'] = guarded_binop('**', d['k'], 2)"
    assert guard_code("x -= y").strip() == "x -= y"  # not an allocating operator: left alone


def test_augmented_concatenation_is_refused_over_the_limit(executor):
    assert run(executor, f"s = 'a' * {MAX_ITEMS // 2}\ns += s\nlen(s)") == MAX_ITEMS
    assert over("concatenating") in refused(executor, f"s = 'a' * {MAX_ITEMS // 2}\ns += s\ns += 'b'")


@pytest.mark.parametrize(
    ("code", "what"),
    [
        (f"x = 1 << {MAX_INT_BITS // 2}\nx *= x", "the integer * operation"),
        (f"x = 3\nx **= {MAX_INT_BITS}", "the integer ** operation"),
        (f"x = 1\nx <<= {MAX_INT_BITS}", "the integer << operation"),
        (f"s = 'ab'\ns *= {MAX_ITEMS}", "repeating a sequence"),
        ("s = '%.*s'\ns %= (10**9, 'ab')", "a %-format width or precision"),
    ],
    ids=["*=", "**=", "<<=", "str *=", "%="],
)
def test_augmented_operators_are_refused_like_the_plain_ones(executor, code, what):
    assert over(what) in refused(executor, code)


# --- f-strings, str(), print -------------------------------------------------------------------


def two_strings(extra: int) -> str:
    """Code binding x to a list whose rendered size is exactly MAX_RENDER + extra."""
    # rendered_size([a, b]) = 2 + 2*2 + (len(a) + 2) + (len(b) + 2)
    second = MAX_RENDER - MAX_ITEMS - 10 + extra
    return f"a = {text(MAX_ITEMS)}\nb = {text(second)}\nx = [a, b]\n"


def test_two_strings_helper_is_exact():
    for extra in (0, 1):
        namespace: dict = {}
        exec(two_strings(extra), namespace)
        assert rendered_size(namespace["x"]) == MAX_RENDER + extra


def test_plain_f_strings_run(executor):
    assert run(executor, "n = 3\nf'{n} and {n + 1!r} and {n:>4} and {[n]}'") == "3 and 4 and    3 and [3]"


def test_an_f_string_renders_a_value_up_to_the_limit(executor):
    assert run(executor, two_strings(0) + "len(f'{x}')") == MAX_RENDER - 10 + 8
    assert RENDER in refused(executor, two_strings(1) + "f'{x}'")


def test_an_f_string_value_is_checked_by_the_gate_too(executor):
    assert "attribute '_x' is not accessible (line 1)" in refused(executor, "f'{echo._x}'")
    assert "attribute 'gi_frame' is not accessible (line 2)" in refused(executor, "n = 1\nf'{n:>3}{echo.gi_frame}'")


def test_an_f_strings_widths_add_up_to_at_most_the_limit(executor):
    # One f-string renders in one operation: its fields' widths count together.
    assert run(executor, f"len(f'{{1:>{MAX_ITEMS}}}')") == MAX_ITEMS
    assert over("an f-string width (line 2)") in refused(executor, f"n = 1\nf'{{n:>{MAX_ITEMS + 1}}}'")
    assert over("an f-string width (line 1)") in refused(executor, "f'{1:>999999}{2:>999999}{3:>999999}'")
    assert run(executor, "len(f'{1:>500000}{2:>500000}')") == MAX_ITEMS


def test_str_renders_a_value_up_to_the_limit(executor):
    assert run(executor, two_strings(0) + "len(str(x))") == MAX_RENDER - 10 + 8
    assert RENDER in refused(executor, two_strings(1) + "str(x)")


def test_str_keeps_its_other_forms(executor):
    assert run(executor, "[str(), str(5), str(b'ab', 'ascii'), str(b'ab', encoding='ascii'), str(object=7)]") == ["", "5", "ab", "ab", "7"]


def test_print_renders_every_argument_through_the_guard(executor):
    # [s, s, s, s, s] renders to ~2.5 M characters: refused before the print buffer sees it.
    code = "s = 'a' * 500000\nx = [s, s, s, s, s]\n"
    assert RENDER in refused(executor, code + "print(x)")
    assert RENDER in refused(executor, code + "print(*[x])")
    assert RENDER in refused(executor, code + "print('a', sep=x)")


def test_print_keeps_its_arguments_and_keywords(executor):
    # (smolagents' print joins with a space and ends with a newline whatever the keywords say)
    result = executor("print('a', 2, *[3, 4], sep='-', end='!')\nprint([1], end='')\nNone")
    assert result.logs == "a 2 3 4\n[1]\n"


# --- the bounded print buffer ----------------------------------------------------------------------


def test_print_output_may_fill_the_buffer_exactly(executor):
    result = executor(f"print('x' * {MAX_PRINT - 1})")  # with its newline: exactly the limit
    assert result.logs.startswith("xxx")  # (smolagents shortens the logs it returns)


def test_print_output_over_the_buffer_is_refused(executor):
    message = refused(executor, f"print('x' * {MAX_PRINT - 1})\nprint()")
    assert f"print output over {MAX_PRINT:,} characters in one step" in message
    assert "print output over" in refused(executor, f"print('x' * {MAX_PRINT // 2})\nprint('y' * {MAX_PRINT // 2})")


def test_print_output_accumulates_within_a_step_and_resets_between_steps(executor):
    assert executor("print('a')\nprint('b')").logs == "a\nb\n"
    assert executor("print('c')").logs == "c\n"


# --- str methods, checked before they allocate ---------------------------------------------------


def test_padding_methods_run_with_their_arguments(executor):
    code = "['ab'.ljust(4, '*'), 'ab'.rjust(4), 'ab'.center(6, '-'), '7'.zfill(3), b'ab'.ljust(3, b'.'), 'ab'.ljust(-1)]"
    assert run(executor, code) == ["ab**", "  ab", "--ab--", "007", "<bytes>", "ab"]


@pytest.mark.parametrize("name", ["ljust", "rjust", "center", "zfill"])
def test_padding_methods_are_allowed_up_to_the_limit(executor, name):
    assert run(executor, f"len('ab'.{name}({MAX_ITEMS}))") == MAX_ITEMS
    assert over(f"{name} width") in refused(executor, f"'ab'.{name}({MAX_ITEMS + 1})")
    assert over(f"{name} width") in refused(executor, f"str.{name}('ab', {MAX_ITEMS + 1})")


def test_padding_methods_called_wrongly_get_pythons_own_error(executor):
    assert "expected at least 1 argument" in refused(executor, "'ab'.ljust()")
    assert "cannot be interpreted as an integer" in refused(executor, "'ab'.center(1e9)")


def test_expandtabs_runs_with_and_without_a_tab_size(executor):
    code = "['a\\tb'.expandtabs(), 'a\\tb'.expandtabs(4), 'a\\tb'.expandtabs(tabsize=2), b'a\\tb'.expandtabs() == b'a       b']"
    assert run(executor, code) == [
        "a       b",
        "a   b",
        "a b",
        True,
    ]


def test_expandtabs_is_allowed_up_to_the_limit(executor):
    # one tab costs at most 8 (the default size) more characters: exactly the limit is allowed
    assert run(executor, f"len(('\\t' + {text(MAX_ITEMS - 9)}).expandtabs())") == MAX_ITEMS - 1
    assert over("expandtabs") in refused(executor, f"('\\t' + {text(MAX_ITEMS - 8)}).expandtabs()")
    # 111,111 tabs at 8 characters each (plus the tabs themselves) fit; at a size of 9 they would not
    assert run(executor, "len(('\\t' * 111111).expandtabs())") == 888888


def test_expandtabs_prices_the_given_tab_size(executor):
    assert over("expandtabs") in refused(executor, f"'a\\t'.expandtabs({MAX_ITEMS})")
    assert over("expandtabs") in refused(executor, f"'a\\t'.expandtabs(tabsize={MAX_ITEMS})")
    assert over("expandtabs") in refused(executor, f"b'a\\t'.expandtabs({MAX_ITEMS})")
    assert over("expandtabs") in refused(executor, f"str.expandtabs('a\\t', {MAX_ITEMS})")


def test_replace_runs(executor):
    code = "['abca'.replace('a', 'x'), 'abca'.replace('a', 'x', 1), 'ab'.replace('', '-'), b'ab'.replace(b'a', b'c') == b'cb']"
    assert run(executor, code) == [
        "xbcx",
        "xbca",
        "-a-b-",
        True,
    ]


def test_replace_counts_the_occurrences(executor):
    # one occurrence, growing by 10: exactly the limit
    code = f"t = 'a' + 'b' * {MAX_ITEMS // 2} + 'b' * {MAX_ITEMS // 2 - 11}\nlen(t.replace('a', 'x' * 11))"
    assert run(executor, code) == MAX_ITEMS
    code = f"t = 'a' + 'b' * {MAX_ITEMS // 2} + 'b' * {MAX_ITEMS // 2 - 10}\nt.replace('a', 'x' * 11)"
    assert over("replace") in refused(executor, code)


def test_replace_of_the_empty_string_inserts_between_every_character(executor):
    # 'a'.replace('', s) gives s + 'a' + s
    assert run(executor, f"len('a'.replace('', 'x' * {(MAX_ITEMS - 1) // 2}))") == MAX_ITEMS - 1
    assert over("replace") in refused(executor, f"'a'.replace('', 'x' * {(MAX_ITEMS - 1) // 2 + 1})")


def test_replace_respects_its_count(executor):
    code = "t = 'a' * 100\nn = 'x' * 100000\n"
    assert run(executor, code + "len(t.replace('a', n, 9))") == 100 + 9 * 99999
    assert run(executor, code + "t.replace('a', n, 0) == t") is True
    assert over("replace") in refused(executor, code + "t.replace('a', n, 11)")
    assert over("replace") in refused(executor, code + "t.replace('a', n, -1)")


def test_replace_called_wrongly_gets_pythons_own_error(executor):
    assert "must be str, not int" in refused(executor, "'abc'.replace('a', 5)")


def test_join_is_allowed_up_to_the_limit(executor):
    half = MAX_ITEMS // 2
    assert run(executor, f"a = 'a' * {half}\nlen(''.join([a, a]))") == MAX_ITEMS
    assert run(executor, f"a = 'a' * {half}\nlen(str.join('', [a, a]))") == MAX_ITEMS
    assert over("joining") in refused(executor, f"a = 'a' * {half}\n''.join([a, a, 'b'])")
    assert over("joining") in refused(executor, f"a = 'a' * {half}\nstr.join('', [a, a, 'b'])")


def test_join_counts_the_separator_once_per_item(executor):
    # 999,998 characters of items + 2 items x 2-character separator = 1,000,002 counted
    code = f"a = 'a' * {MAX_ITEMS // 2 - 1}\n"
    assert over("joining") in refused(executor, code + "'--'.join([a, a])")
    assert run(executor, code + "len('-'.join([a, a]))") == MAX_ITEMS - 1


def test_join_counts_empty_items_as_nothing(executor):
    assert run(executor, f"len(''.join([{text(MAX_ITEMS - 1000)}] + [''] * 1001))") == MAX_ITEMS - 1000


def test_join_reads_an_iterator_once_and_keeps_its_own_argument_rules(executor):
    code = "['-'.join(iter(['a', 'b'])), str.join('+', iter(['c', 'd'])), b','.join([b'x', b'y']) == b'x,y']"
    assert run(executor, code) == ["a-b", "c+d", True]
    assert "takes exactly one argument" in refused(executor, "'-'.join(['a'], 'b')")


def test_a_join_separator_is_not_a_format_string(executor):
    assert run(executor, "'1234567{x{'.join(['a', 'b'])") == "a1234567{x{b"


def test_format_runs_with_positional_and_keyword_arguments(executor):
    code = "['{}-{}'.format(1, 'b'), '{a}{b}'.format(a=1, b=2), '{a}'.format_map({'a': 3}), '{{{0}}}'.format(4), '{:>6}'.format(5)]"
    assert run(executor, code) == ["1-b", "12", "3", "{4}", "     5"]


def test_a_format_strings_widths_add_up_to_at_most_the_limit(executor):
    assert run(executor, f"len('{{:>{MAX_ITEMS}}}'.format(1))") == MAX_ITEMS
    assert over("a format width") in refused(executor, f"'{{:>{MAX_ITEMS + 1}}}'.format(1)")
    assert over("a format width") in refused(executor, f"'{{:>{MAX_ITEMS + 1}}}{{}}'.format('a', 'b')")
    assert over("a format width") in refused(executor, f"'{{a:>{MAX_ITEMS + 1}}}'.format_map({{'a': 1}})")
    assert over("a format width") in refused(executor, "'{:>999999}{:>999999}{:>999999}'.format(1, 2, 3)")
    # Numbers in the text around the fields are not widths.
    assert run(executor, "'call 1234567: {}'.format(1)") == "call 1234567: 1"


def test_a_computed_format_width_is_refused(executor):
    message = refused(executor, "'{:>{}}'.format(1, 10)")
    assert "CodeRefused: a format string with a computed width is not allowed" in message
    assert "computed width" in refused(executor, "'{a:{w}}'.format_map({'a': 1, 'w': 5})")


FIELD = "a field may name a position or a keyword"


@pytest.mark.parametrize(
    "code",
    [
        "'{0.__globals__[inspect].os.environ[NEO4J_PASSWORD]}'.format(echo)",
        "'{0.name}'.format(echo)",
        "'{0[0]}'.format(['a'])",
        "'{a[k]}'.format(a={'k': 1})",
        "'{p.__globals__}'.format_map({'p': echo})",
        "str.format('{0.__globals__}', echo)",
        "str.format_map('{p.real}', {'p': 1})",
        "('{0.' + '__glob' + 'als__}').format(echo)",
        "''.join(['{0', '.__globals__}']).format(echo)",
        "f'{{0.{\"real\"}}}'.format(1)",
        "'{0!r:>3}{1.real}'.format(1, 2)",
    ],
)
def test_format_fields_may_not_walk_attributes_or_items(executor, code):
    # str.format walks `.attr` and `[key]` inside C, where neither the gate nor smolagents looks:
    # checked where the format string is used, however it was built.
    message = refused(executor, code)
    assert FIELD in message and "not an attribute or an item" in message


def test_a_refused_format_field_is_named_up_to_40_characters(executor):
    field = "0." + "a" * 50
    message = refused(executor, f"'{{{field}}}'.format(1)")
    assert f"format field {field[:40]!r}: {FIELD}" in message
    assert message.endswith("not an attribute or an item; compute the value first")


def test_format_fields_by_position_name_and_conversion_still_work(executor):
    code = "['{0}{1!r}{x:>3}'.format(1, 'a', x=2), '{k}'.format_map({'k': 'v'}), str.format('{}-{}', 1, 2), '{{0.x}}'.format()]"
    assert run(executor, code) == ["1'a'  2", "v", "1-2", "{0.x}"]


def test_no_other_way_to_a_format_mini_language(executor):
    assert "is not among the explicitly allowed tools" in refused(executor, "format(echo, '')")
    assert "directly, not as a value" in refused(executor, "f = '{0.real}'.format\nf(1)")
    assert "directly, not through getattr" in refused(executor, "getattr('{0.real}', 'format')(1)")
    assert "must be written out, not computed" in refused(executor, "s = '0.real'\nf'{1:{s}}'")


def test_format_arguments_are_bounded_by_what_they_render_to(executor):
    assert run(executor, two_strings(0) + "len('{}{}'.format(a, b))") == MAX_RENDER - 10
    assert over("formatting") in refused(executor, two_strings(1) + "'{}{}'.format(a, b)")
    assert over("formatting") in refused(executor, two_strings(1) + "'{a}{b}'.format(a=a, b=b)")


def test_percent_format_runs(executor):
    assert run(executor, "['%5d|%s' % (3, 'x'), '%(n)03d' % {'n': 7}, '%.2f' % 1.5, '%%' % (), b'%d' % 4 == b'4']") == [
        "    3|x",
        "007",
        "1.50",
        "%",
        True,
    ]


def test_percent_format_width_and_precision_are_allowed_up_to_the_limit(executor):
    assert run(executor, f"'%.{MAX_ITEMS}s' % 'ab'") == "ab"
    assert over("a %-format width or precision") in refused(executor, f"'%.{MAX_ITEMS + 1}s' % 'ab'")
    assert over("a %-format width or precision") in refused(executor, f"'%{MAX_ITEMS + 1}d' % 1")
    assert over("a %-format width or precision") in refused(executor, "'%.*f' % (3, 1.0)")
    # All the fields of one format count together: it is one operation.
    assert over("a %-format width or precision") in refused(executor, "fmt = '%99999d' * 30\nfmt % tuple(range(30))")


def test_percent_format_arguments_are_bounded_by_what_they_render_to(executor):
    # the tuple (a, b) renders like the list [a, b]: exactly MAX_RENDER
    assert run(executor, two_strings(0) + "len('%s%s' % (a, b))") == MAX_RENDER - 10
    assert over("formatting") in refused(executor, two_strings(1) + "'%s%s' % (a, b)")
    assert over("formatting") in refused(executor, two_strings(1) + "'%s' % x")


def test_method_names_starting_with_an_underscore_are_refused_by_the_method_guard(executor):
    from agents.code_guard import guarded_method

    with pytest.raises(CodeRefused, match="attribute '_x' is not accessible"):
        guarded_method("ab", "_x")
    assert guarded_method("ab", "ljust", 3) == "ab "
    assert guarded_method([3, 1], "count", 1) == 1


# --- what the gate refuses, and says -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("def f(_x):\n    return 1", "argument name '_x' is not allowed (line 1)"),
        ("g = lambda f_back: 1", "argument name 'f_back' is not allowed (line 1)"),
        ("def _f():\n    return 1", "function name '_f' is not allowed (line 1)"),
        ("x = 1\ndef guarded_str(v):\n    return v", "function name 'guarded_str' is not allowed (line 2)"),
        ("def guarded_binop(op, a, b):\n    return 0", "function name 'guarded_binop' is not allowed (line 1)"),
        ("guarded_render = print", "name 'guarded_render' is not accessible (line 1)"),
        ("f'{1:>{10}}'", "an f-string format spec must be written out, not computed (line 1)"),
    ],
)
def test_the_gate_refuses_and_names_what(executor, code, message):
    assert message in refused(executor, code)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = 1\nimport os", "imports are not available: call your team members and final_answer (line 2)"),
        ("x = 1\nfrom os import path", "imports are not available: call your team members and final_answer (line 2)"),
        ("x = 1\nclass A:\n    pass", "class definitions are not allowed (line 2)"),
        ("def f():\n    global x", "global statements are not allowed (line 2)"),
        ("def f():\n    x = 1\n    def g():\n        nonlocal x", "nonlocal statements are not allowed (line 4)"),
        ("def f():\n    yield 1", "generators are not allowed (line 2)"),
        ("def f():\n    yield from [1]", "generators are not allowed (line 2)"),
        ("x = 1\nasync def f():\n    pass", "async code is not allowed (line 2)"),
        ("x = 1\necho.name = 'x'", "attributes cannot be set or deleted (line 2)"),
        ("x = 1\ndel echo.name", "attributes cannot be set or deleted (line 2)"),
        ("x = 1\ny = echo._name", "attribute '_name' is not accessible (line 2)"),
    ],
    ids=["import", "from", "class", "global", "nonlocal", "yield", "yield from", "async", "set", "del", "private"],
)
def test_the_gate_refuses_statements_with_their_line(executor, code, message):
    with pytest.raises(CodeRefused) as info:
        executor(code)
    assert str(info.value) == message


def test_functions_with_ordinary_names_run(executor):
    code = "def double(v, times=2):\n    return v * times\n[double(3), double('a', times=3), (lambda y: y + 1)(1)]"
    assert run(executor, code) == [6, "aaa", 2]


# --- team functions ----------------------------------------------------------------------------------


def test_a_tool_takes_and_returns_plain_data(executor):
    assert run(executor, "echo({'a': (1, 2), 3: {4}})") == {"a": [1, 2], "3": [4]}
    assert run(executor, "echo(value=[None, True, 1.5, 'x'])") == [None, True, 1.5, "x"]


def test_a_tool_failure_crosses_as_text_only(executor):
    code = "try:\n    broken('now')\nexcept Exception as e:\n    caught = e\n[str(caught), len(caught.args)]"
    assert run(executor, code) == ["broken failed: broken by now", 1]


def test_a_team_member_gets_its_task_and_extra_arguments_and_returns_text(executor, team):
    code = "a = helper('first')\nb = helper(task='second', additional_args={'k': [1]})\n[a, b, isinstance(a, str)]"
    assert run(executor, code) == ["report on first with None", "report on second with {'k': [1]}", True]
    assert team["helper"].calls == [(("first",), {}), ((), {"task": "second", "additional_args": {"k": [1]}})]


@pytest.mark.parametrize("call", ["helper('a', 'b')", "helper(task='a', other=1)", "helper(bogus=1)"])
def test_a_team_member_takes_only_a_task_and_additional_args(executor, team, call):
    message = refused(executor, call)
    assert "helper takes task (text) and optional additional_args (a dict)" in message
    assert team["helper"].calls == []


@pytest.mark.child_process
def test_send_tools_refuses_anything_but_agents_and_tools():
    ex = SafeExecutor()
    try:
        with pytest.raises(TypeError, match="only agents and tools"):
            ex.send_tools({"f": len})
    finally:
        ex.close()


@pytest.mark.child_process
def test_send_variables_keeps_plain_public_values_only(team):
    ex = SafeExecutor()
    try:
        ex.send_variables(variables={"task": "t", "n": (1, 2), "_hidden": 1, "f_x": 2, "obj": object()})
        ex.send_tools(team)
        assert run(ex, "[task, n, obj]") == ["t", [1, 2], "<object>"]
        assert "_hidden" not in ex.variables and "f_x" not in ex.variables and ex.variables["n"] == [1, 2]
    finally:
        ex.close()


# --- plain() -------------------------------------------------------------------------------------


def test_plain_keeps_json_like_data_and_names_the_rest():
    value = {1: (1, 2.5, None, True), "s": {3}, "f": frozenset(), "o": object(), "b": b"x"}
    assert plain(value) == {"1": [1, 2.5, None, True], "s": [3], "f": [], "o": "<object>", "b": "<bytes>"}


def test_plain_stops_at_its_depth():
    nested: list = []
    for _ in range(MAX_PLAIN_DEPTH + 1):
        nested = [nested]
    flat = plain(nested)
    for _ in range(MAX_PLAIN_DEPTH):
        assert isinstance(flat, list) and len(flat) == 1
        flat = flat[0]
    assert flat == "<list>"
    deep_dict: dict = {}
    for _ in range(MAX_PLAIN_DEPTH + 1):
        deep_dict = {"k": deep_dict}
    flat = plain(deep_dict)
    for _ in range(MAX_PLAIN_DEPTH):
        flat = flat["k"]
    assert flat == "<dict>"


# --- step limits ---------------------------------------------------------------------------------


def test_the_final_answer_is_marked(executor):
    result = executor("final_answer({'decision': 'go'})")
    assert result.is_final_answer and result.output == {"decision": "go"}
    result = executor("x = 1\nx")
    assert not result.is_final_answer


def test_an_output_too_large_to_show_is_shortened_with_a_note(executor):
    result = executor("s = 'a' * 500000\n[s, s, s, s, s]")
    assert isinstance(result.output, str) and len(result.output) < MAX_OBSERVATION + 200
    assert result.output.startswith("['aaaa")
    assert "more characters cut]" in result.output
    assert result.output.endswith(f"[a value rendering to over {MAX_OBSERVATION:,} characters, shortened]")
    # at the limit a value comes back whole (a 19,998-character string renders to 20,000)
    assert run(executor, f"{text(MAX_OBSERVATION - 2)}") == "ab" * ((MAX_OBSERVATION - 2) // 2)
    assert run(executor, f"{text(MAX_OBSERVATION - 1)}").endswith("characters, shortened]")
    # a final answer may be larger: it goes to the caller, not back to the model
    assert executor(f"final_answer([{text(MAX_OBSERVATION)}])").output == ["ab" * (MAX_OBSERVATION // 2)]
    final = executor(f"final_answer([{text(MAX_FINAL)}])").output
    assert final.endswith(f"[a value rendering to over {MAX_FINAL:,} characters, shortened]")
    assert MAX_FINAL < len(final) < MAX_FINAL + 200  # cut at its own limit, not the observation's


def test_a_shortened_value_shows_its_first_items_and_levels(executor):
    # Past the limit a value is shown through reprlib: 1,000 items per list, 4 levels deep.
    shown = run(executor, f"[list(range(1001)), [[[['deep']]]], {text(MAX_OBSERVATION)}]")
    assert "998, 999, ...]" in shown and "[[[[...]]]]" in shown


def test_printed_output_past_smolagents_own_cap_is_cut_once_by_ours(executor):
    # smolagents truncates print output at 50,000 characters its own way; ours alone cuts here
    result = executor("print('x' * 60000)")
    assert result.logs == "x" * MAX_OBSERVATION + "\n[... 40,001 more characters cut]"


def test_a_failed_step_leaves_its_printed_output_where_smolagents_reads_it(executor):
    refused(executor, "print('before')\n1 / 0")
    assert executor.state["_print_outputs"] == "before\n"
    refused(executor, f"print('y' * {MAX_OBSERVATION + 10})\n1 / 0")
    assert executor.state["_print_outputs"] == "y" * MAX_OBSERVATION + "\n[... 11 more characters cut]"
    assert run(executor, "1") == 1
    assert executor.state["_print_outputs"] == ""


def test_a_step_before_any_tools_or_variables_has_the_built_ins_and_final_answer(bare):
    assert run(bare, "[len('ab'), list(range(2)), sum([1, 2])]") == [2, [0, 1], 3]
    assert "range of" in refused(bare, f"range({MAX_ITEMS + 1})")
    result = bare("final_answer({'decision': 'go'})")
    assert result.is_final_answer and result.output == {"decision": "go"}


@pytest.mark.parametrize("code", ["os.getcwd()", "open('/etc/passwd').read()"])
def test_the_code_has_neither_os_nor_open(executor, code):
    assert re.search(r"not among the explicitly allowed tools|is not defined", refused(executor, code))


def test_variables_reach_the_code_as_plain_data(executor):
    executor.send_variables(variables={"task": "t", "n": (1, 2), "obj": object()})
    assert run(executor, "[task, n, obj]") == ["t", [1, 2], "<object>"]


def test_printed_output_and_error_texts_are_cut_with_a_note(executor):
    result = executor(f"print('x' * {MAX_OBSERVATION + 5000})")
    assert result.logs.startswith("x" * 100) and "[... 5,001 more characters cut]" in result.logs
    message = refused(executor, "big = list(range(100000))\nraise ValueError(big)")
    assert len(message) < MAX_OBSERVATION + 200 and "more characters cut]" in message


def test_raising_base_exceptions_is_turned_into_an_error(executor):
    assert "raising KeyboardInterrupt is not allowed" in refused(executor, "raise KeyboardInterrupt()")
    assert "division by zero" in refused(executor, "1 / 0")
    assert run(executor, "7") == 7


# --- the built-ins the code gets -------------------------------------------------------------------


def test_getattr_and_hasattr_refuse_what_the_gate_refuses(executor):
    code = "[getattr('ab', 'upper')(), getattr('ab', 'nope', 5), hasattr('ab', 'upper'), hasattr('ab', 'nope')]"
    assert run(executor, code) == ["AB", 5, True, False]
    assert run(executor, "[hasattr('ab', '_' + '_class__'), hasattr('ab', 'gi_' + 'frame'), hasattr('ab', 5)]") == [False, False, False]
    assert "attribute '__class__' is not accessible" in refused(executor, "getattr('ab', '_' + '_class__')")
    assert "attribute 5 is not accessible" in refused(executor, "getattr('ab', 5)")
    assert "has no attribute 'nope'" in refused(executor, "getattr('ab', 'nope')")


def test_range_is_bounded(executor):
    code = f"[len(range({MAX_ITEMS})), list(range(3)), list(range(1, 10, 4)), list(range(5, 0, -2))]"
    assert run(executor, code) == [MAX_ITEMS, [0, 1, 2], [1, 5, 9], [5, 3, 1]]
    assert f"range of {MAX_ITEMS + 1:,} numbers: the limit is {MAX_ITEMS:,}" in refused(executor, f"range({MAX_ITEMS + 1})")
    assert "range of" in refused(executor, f"range(-1, {MAX_ITEMS})")


def test_iter_map_filter_sum_and_pow_keep_their_meaning(executor):
    code = (
        "[list(iter([1, 2])), list(map(lambda a, b: a + b, [1, 2], [10, 20, 30])), list(filter(lambda v: v > 1, [1, 2, 3])),"
        " list(filter(None, [0, 1, '', 'a'])), sum([1, 2]), sum([1, 2], 3), sum([0.5], 1.5), sum([1j], 0j) == 1j,"
        " pow(2, 10), pow(2, 10, 1000), pow(3, 4, None)]"
    )
    assert run(executor, code) == [[1, 2], [11, 22], [2, 3], [1, "a"], 3, 6, 2.0, True, 1024, 24, 81]
    assert refused(executor, "sum([[1]], [])").endswith("CodeRefused: sum adds numbers; join text with ''.join(...)")
    assert "sum adds numbers" in refused(executor, "sum(['a'], '')")
    assert over("the integer ** operation") in refused(executor, f"pow(3, {MAX_INT_BITS})")
    assert run(executor, f"pow(3, {10 * MAX_INT_BITS}, 7)") == pow(3, 10 * MAX_INT_BITS, 7)


def test_other_step_errors_keep_the_variables(executor):
    assert run(executor, "kept = 1\nkept") == 1
    assert "division by zero" in refused(executor, "1 / 0")
    assert run(executor, "kept") == 1


def test_team_members_run_in_the_server_in_the_thread_that_runs_the_step(executor):
    """The code is in another process (or, in this process, in no thread of smolagents' own);
    what it calls runs here, where the step was called."""

    class Where(Tool):
        name = "where"
        description = "The thread it runs in."
        inputs = {}
        output_type = "any"

        def forward(self):
            return threading.get_ident()

    executor.send_tools({"final_answer": FinalAnswerTool(), "where": Where()})
    assert run(executor, "where()") == threading.get_ident()


def test_final_answer_is_not_wrapped_as_a_team_member(executor):
    message = refused(executor, "final_answer()")
    assert "missing 1 required positional argument: 'answer'" in message
    assert "final_answer failed" not in message


def test_setattr_type_and_two_argument_iter_are_not_available(executor):
    assert "is not among the explicitly allowed tools" in refused(executor, "setattr(echo, 'name', 'x')")
    assert "is not among the explicitly allowed tools" in refused(executor, "type(1)")
    assert "takes 1 positional argument" in refused(executor, "it = iter(int, 1)")  # (never list() it)


# --- rendered_size -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("abc", 5),
        (b"ab", 4),
        (bytearray(b"a"), 3),
        (None, 5),
        (True, 5),
        (1.5, 5),
        (0, 1),
        (2**30, 11),  # 31 bits: about 10 digits
        ([0, 7], 2 + 4 + 1 + 2),
        ([None, True, 0.5], 2 + 6 + 5 + 5 + 5),
        ([2**30, 7], 2 + 4 + 11 + 2),
        ({}, 2),
        ({"a": 1, "b": 2}, 2 + 8 + 3 + 1 + 3 + 1),
        ([{"a": 1}], 2 + 2 + 2 + 4 + 3 + 1),
        ([[1]], 2 + 2 + 2 + 2 + 1),
        (((), {1}, frozenset()), 2 + 6 + 2 + 4 + 1 + 2),
        ([object()], 2 + 2 + 40),
        (object(), 40),
    ],
    # repr, but an object's address differs per process (xdist's workers must agree on ids)
    ids=lambda v: re.sub(r" at 0x[0-9a-f]+", "", repr(v)),
)
def test_rendered_size_prices_each_kind_of_value(value, size):
    assert rendered_size(value) == size


def test_rendered_size_stops_counting_once_over_its_budget():
    assert rendered_size(["a", "b"], budget=6) == 9  # 6 is not over 6: one more item is counted
    assert rendered_size(["a", "b"], budget=5) == 6
    assert rendered_size("abc", budget=0) == 5  # the value itself is always counted
    loop: list = [1]
    loop.append(loop)
    assert 100 < rendered_size(loop, budget=100) <= 110
    assert rendered_size(["x" * 10**6] * 10**6) > MAX_RENDER  # cheap: stops after a few items


@pytest.mark.parametrize("code", [
    "m = 'x'.ljust\nresult = len(m(5_000_000))",
    "f = str.center\nresult = len(f('x', 5_000_000))",
    "result = len(getattr('x', 'ljust')(5_000_000))",
    "result = list(map(''.join, [['a'] * 3]))",
])
def test_a_growing_text_method_is_only_called_directly(executor, code):
    # Its size guard is applied where it is called; kept as a value it would allocate unchecked.
    assert "directly" in refused(executor, code)
    assert run(executor, "'-'.join(['a', 'b']).center(5)") == " a-b "
