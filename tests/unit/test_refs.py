"""The resident's reference number (DESIGN 5.1 `ref`): random digits with a check digit, read
out on the phone to the call centre (Q-1) and carried by the exports instead of the LINE id (D-1)."""

from kariya.residents import refs


def test_a_new_ref_is_twelve_digits_that_parse_back():
    made = {refs.new_ref() for _ in range(200)}
    assert len(made) == 200
    for ref in made:
        assert len(ref) == 12 and ref.isdigit()
        assert refs.parse(ref) == ref
        assert refs.parse(refs.display(ref)) == ref


def test_read_out_forms_are_understood():
    ref = refs.new_ref()
    spoken = refs.display(ref).translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    assert refs.parse(spoken) == ref
    assert refs.parse(" " + ref[:4] + " " + ref[4:] + " ") == ref
    assert refs.display(ref) == f"{ref[:4]}-{ref[4:8]}-{ref[8:]}"


def test_a_misheard_digit_or_two_swapped_neighbours_are_refused():
    ref = refs.new_ref()
    for i in range(12):
        wrong = ref[:i] + str((int(ref[i]) + 1) % 10) + ref[i + 1 :]
        assert refs.parse(wrong) is None
    for i in range(11):
        if ref[i] != ref[i + 1] and {ref[i], ref[i + 1]} != {"0", "9"}:
            swapped = ref[:i] + ref[i + 1] + ref[i] + ref[i + 2 :]
            assert refs.parse(swapped) is None
    assert refs.parse("") is None and refs.parse(ref[:-1]) is None and refs.parse(None) is None
