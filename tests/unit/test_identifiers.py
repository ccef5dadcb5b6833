from hypothesis import given, strategies as st
from stdnum.no import fodselsnummer

from gateway.domain.identifiers import is_valid_norwegian_organization_number, is_valid_norwegian_person_id


def test_known_numbers():
    assert is_valid_norwegian_person_id("15076500565")
    assert is_valid_norwegian_person_id("55076500559")  # D-nummer
    assert not is_valid_norwegian_person_id("15076500566")
    assert not is_valid_norwegian_person_id("1507650056")
    assert not is_valid_norwegian_person_id("15076500565 ")
    assert not is_valid_norwegian_person_id("１５０７６５００５６５")  # full-width digits
    assert is_valid_norwegian_organization_number("974720760")
    assert not is_valid_norwegian_organization_number("974720761")
    assert not is_valid_norwegian_organization_number("97472076")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_person_id_is_valid_exactly_when_both_check_digits_match(base):
    c1 = fodselsnummer.calc_check_digit1(base)
    if len(c1) != 1:  # remainder 10: no valid number has this base
        assert not any(is_valid_norwegian_person_id(base + str(a) + str(b)) for a in range(10) for b in range(10))
        return
    c2 = fodselsnummer.calc_check_digit2(base + c1)
    for a in range(10):
        for b in range(10):
            number = base + str(a) + str(b)
            assert is_valid_norwegian_person_id(number) == (str(a) == c1 and str(b) == c2)
