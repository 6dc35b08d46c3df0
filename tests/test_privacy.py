"""The privacy guard: identifying details are found and redacted; ordinary questions pass untouched."""

from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.logs import JsonFormatter
from bot.privacy import nhs_number_valid, scan, use_content
from bot.privacy.lexicon import DEFAULT_CONTENT


def _with_check_digit(nine: str) -> str | None:
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else nine + str(check)


@pytest.mark.parametrize(("text", "kind", "secret"), [
    # NHS numbers (valid modulus 11 only)
    ("My NHS number is 943 476 5919", "nhs_number", "943 476 5919"),
    ("nhs no 9434765919", "nhs_number", "9434765919"),
    ("NHS: 943-476-5919.", "nhs_number", "943-476-5919"),
    # National Insurance numbers
    ("NI number AB123456C please", "ni_number", "AB123456C"),
    ("her NI is JR 12 34 56 D", "ni_number", "JR 12 34 56 D"),
    ("ni ab 12 34 56 c", "ni_number", "ab 12 34 56 c"),
    ("national insurance: ce123456a", "ni_number", "ce123456a"),
    ("NINO AB 123456", "ni_number", "AB 123456"),
    # postcodes (full UK format)
    ("They live at SW1A 1AA", "postcode", "SW1A 1AA"),
    ("postcode m1 1ae", "postcode", "m1 1ae"),
    ("moved to B33 8TH last week", "postcode", "B33 8TH"),
    ("CR2 6XH", "postcode", "CR2 6XH"),
    ("DN551PT is the address", "postcode", "DN551PT"),
    ("W1A 0AX", "postcode", "W1A 0AX"),
    ("EC1A 1BB", "postcode", "EC1A 1BB"),
    # phone numbers
    ("call me on 07700 900123", "phone", "07700 900123"),
    ("mobile 07700900123", "phone", "07700900123"),
    ("ring +44 (0)20 7946 0958 tomorrow", "phone", "+44 (0)20 7946 0958"),
    ("+447700900123", "phone", "+447700900123"),
    ("0044 7700 900 123", "phone", "0044 7700 900 123"),
    ("landline (0161) 496 0000", "phone", "(0161) 496 0000"),
    ("01632 960 123", "phone", "01632 960 123"),
    ("0113-496-0000", "phone", "0113-496-0000"),
    # e-mail addresses
    ("email jane.smith+school@example.org.uk now", "email", "jane.smith+school@example.org.uk"),
    # dates of birth: near a cue, or any full date
    ("her dob is 12/03/2015", "date_of_birth", "12/03/2015"),
    ("D.O.B. 01.02.2016", "date_of_birth", "01.02.2016"),
    ("DOB: 3/4", "date_of_birth", "3/4"),
    ("date of birth 3rd March", "date_of_birth", "3rd March"),
    ("born in 2015", "date_of_birth", "2015"),
    ("he was born on the 3rd of May", "date_of_birth", "3rd of May"),
    ("her birthday is 12 March", "date_of_birth", "12 March"),
    ("born March 2019", "date_of_birth", "March 2019"),
    ("dob 2015-03-12", "date_of_birth", "2015-03-12"),
    ("Amy b. 03/04/2016 lives with nan", "date_of_birth", "03/04/2016"),
    ("d.o.b 12.09.2015", "date_of_birth", "12.09.2015"),
    ("DoB 18/10/2013", "date_of_birth", "18/10/2013"),
    ("child born 2019-02-11", "date_of_birth", "2019-02-11"),
    ("born on 12 - 03 - 2015", "date_of_birth", "12 - 03 - 2015"),
    # the gaps the first guard had: double spaces and dashes in numbers
    ("NHS 937  865  7974", "nhs_number", "937  865  7974"),
    ("NI number AB-12-34-56-C", "ni_number", "AB-12-34-56-C"),
    ("ring 07700  900  461", "phone", "07700  900  461"),
    ("postcode B1  2JP", "postcode", "B1  2JP"),
    # full names introduced as such
    ("her name is Jane Smith", "name", "Jane Smith"),
    ("the child's name is Amy", "name", "Amy"),
    ("The boy’s name’s Tom Brown and", "name", "Tom Brown"),
    ("called John Doe", "name", "John Doe"),
    ("a boy called Tom", "name", "Tom"),
    ("she’s called Amy", "name", "Amy"),
    ("child: Amy Jones", "name", "Amy Jones"),
    ("Mum - Jane Smith", "name", "Jane Smith"),
    ("the child, Amy Jones, is 7", "name", "Amy Jones"),
    ("I spoke to Mrs Patel today", "name", "Patel"),
    ("Mr. John O'Brien came in", "name", "John O'Brien"),
    ("Ms Smith-Jones said", "name", "Smith-Jones"),
    ("known as Jo McDonald", "name", "Jo McDonald"),
    ("named Zoë Müller", "name", "Zoë Müller"),
    ("surname: Okafor", "name", "Okafor"),
    # names from the names list, in any case, with the context that makes them names
    ("Jane Smith is 7", "name", "Jane Smith"),
    ("mum Sharon says dad left", "name", "Sharon"),
    ("her brother Callum (6) was left alone", "name", "Callum"),
    ("Do I need consent to share Priya's attendance?", "name", "Priya"),
    ("Thomas told me his uncle hits him", "name", "Thomas"),
    ("mr kowalski told me the kids are scared", "name", "mr kowalski"),
    ("I am worried about siobhan o'connor", "name", "siobhan o'connor"),
    ("Oluwaseun Adeyemi has been missing meals", "name", "Oluwaseun Adeyemi"),
    ("Kacper and his sister Wiktoria begged", "name", "Wiktoria"),
    ("Aisha Begum's stepdad shouted", "name", "Aisha Begum"),
    ("Grace Moore DoB 18/10/2013", "name", "Grace Moore"),  # a vetoed word goes with a full name
    ("I met Maria de Souza today", "name", "Maria de Souza"),
    ("spoke to jade and her mum, jade has a bruise", "name", "jade"),
    ("PC Danielle Shaw asked for the record", "name", "PC Danielle Shaw"),
    # addresses
    ("the family live at 14 Wellington Crescent", "address", "14 Wellington Crescent"),
    ("Flat 2, 37 Mill Lane has no heating", "address", "Flat 2, 37 Mill Lane"),
    ("they're at Apartment 12, Riverside Court", "address", "Apartment 12, Riverside Court"),
    ("at Flat 30, Crown Court, Primrose Street", "address", "Flat 30, Crown Court, Primrose Street"),
    ("new address is 9 The Crescent, Oldham", "address", "9 The Crescent"),
    ("living at 9a station road", "address", "9a station road"),
    ("staying at Pitch 4, Oakfield Traveller Site", "address", "Pitch 4, Oakfield Traveller Site"),
    ("at Flat 2, Y Bwthyn, Heol y Parc", "address", "Flat 2, Y Bwthyn, Heol y Parc"),
    ("They live at Flat 4/2, 10 Main Street, Glasgow", "address", "Flat 4/2, 10 Main Street"),
    ("The Willows, 5 Park Road is the address", "address", "The Willows, 5 Park Road"),
    ("she lives on elm grove with mum", "address", "elm grove"),
    ("the family are at 7 Ridgeway now", "address", "7 Ridgeway"),
    ("they moved to 12 The Butts last week", "address", "12 The Butts"),
    ("Basement flat, 22 Elm Grove", "address", "Basement flat, 22 Elm Grove"),
    # schools, nurseries, surgeries
    ("he goes to St Bartholomew's Primary School", "institution", "St Bartholomew's Primary School"),
    ("registered at Riverside Medical Centre", "institution", "Riverside Medical Centre"),
    ("Little Acorns Nursery rang", "institution", "Little Acorns Nursery"),
    ("Can I share with Oakwood Surgery?", "institution", "Oakwood Surgery"),
    ("registered at Broad Street Surgery", "institution", "Broad Street Surgery"),
    ("attends Moat House Primary", "institution", "Moat House Primary"),
    ("the nurse at Ysgol Bryn Glas", "institution", "Ysgol Bryn Glas"),
])
def test_identifying_details_are_found_and_redacted(text: str, kind: str, secret: str) -> None:
    result = scan(text)
    assert kind in result.kinds, f"{kind} not found in {text!r}: {result}"
    assert secret not in result.redacted
    assert f"[{kind}]" in result.redacted


@pytest.mark.parametrize("text", [
    "do I need consent to refer to children's social care?",
    "Mum says don't tell social care. What should I do?",
    "What are the 7 golden rules?",
    "the May 2024 advice says share early",
    "Information sharing: advice for practitioners (May 2024)",
    "in 2018 the DPA came in",
    "the 2018 Act and the 2024 guidance",
    "since 25 May 2018 GDPR applies",
    "the guidance was updated 12 March 2015",
    "Article 6 of UK GDPR and Article 9",
    "section 47 enquiry or section 17 child in need",
    "DPA 2018 Schedule 1 Part 2 paragraph 18",
    "is a known as Early Help assessment needed",
    "a service called Early Help",
    "a meeting called a Strategy Discussion",
    "Can I share with the Child Protection Plan team",
    "The child is Looked After",
    "The child, Early Help Hub, referral",
    "Is Early Help Named Person okay",
    "the named person service",
    "refer to MASH on 0300",
    "1/2 of the staff",
    "version 1.2.3 of the form",
    "MARAC meeting at 10:30 on 12/03",
    "school year 2023/24",
    "she is in Y6 2nd term",
    "child 1 of 3",
    "QQ123456C is the example number",
    "NHS 9434765918 fails the check",
    # dates with no birth cue are incidents, meetings and documents
    "the visit was on 12 March 2015",
    "on 12/3/15 she said",
    "March 12, 2015",
    "1st Jan 2020 was the incident",
    # words that are names somewhere, and sector words, in any case
    "Can I share information with the police without consent?",
    "Mum has asked us not to tell Dad about the referral",
    "Will the Social Worker tell the family?",
    "May I share with the health visitor?",
    "Grace period for returning the form",
    "What is Gillick competence and how is it different from the Fraser guidelines?",
    "Can I ask the police for a Clare's Law disclosure?",
    "Do I need consent to share with Early Help?",
    "Can the GP surgery share with the school nurse?",
    "What's the role of the Virtual School Head?",
    "Our local primary school wants the chronology",
    "2 children in the park were crying",
    "it is a 10 min walk to school",
    "Year 6 pupils walk home",
    "can i tell the dsl what a pupil told me",
    "Should the DSL or the Head make the referral to MASH?",
    # case references are never flagged
    "Case REF-12345 – can I share the strategy discussion notes?",
    "I've put the referral on LL123456, can the school see it?",
    "Is CP-2024-0087 due for review before the conference?",
    "What's my DSL's role?",
    "Hi, thanks!",
    "I'm a teacher. A pupil told me something worrying, who do I tell?",
    "Do I need a DPIA or an ISA before sharing with the police in an emergency?",
    "The name of the form is on the website",
    "her name is not important",
    "unborn baby, pre-birth assessment",
    "aged 7, in Year 3",
    "ring 999 in an emergency or 101",
    "page 12 of 20, 2 minutes",
    "between 9 and 5 on weekdays",
    # dates and references practitioners type for agreements and cases
    "isa add review 2028-04-01",
    "ISA review date: 01/04/2024",
    "review on 1 April 2027",
    "signed 1 April 2024 by both partners",
    "the strategy meeting is on 12/03/2099",
    "the strategy meeting was on 12/03/2024",
    "case reference LA123456",
    "CR/2026/0042",
    "HL-6006",
    "CDU0123456789",
    "AB 123456",
    "teams 19:abc123@thread.tacv2",
    "a scheme called Operation Encompass",
    "the school's Named Professional",
    "we use a framework called Signs of Safety",
    "a meeting known as Team Around the Child",
    "call the MASH on 0300 123 4567 or the NSPCC on 0808 800 5000",
    # courts are services, not homes, though "Court" also ends many street names
    "the Family Court has asked for our records",
    "the hearing is at Crown Court next week",
    "dad is up before the Youth Court on Monday",
    # a lower-case word after a determiner or an age is a common noun, whatever names lists hold
    "a 12 year old says she's having sex with her 17 year old boyfriend, do i tell anyone",
    "the 15 yo told me he is scared",
    "the young person said she was scared",
    "the lodger said he saw it",
    "her boss said no",
    "the man next door said the kids are alone",
])
def test_ordinary_questions_pass_untouched(text: str) -> None:
    result = scan(text)
    assert result.findings == (), f"false alarm on {text!r}: {result}"
    assert result.redacted == text


def test_unsure_findings_are_redacted_without_a_warning() -> None:
    """The high-recall tier redacts a lower-case first name alone; only sure findings warn and refuse."""
    result = scan("is it ok that kayden goes home alone")
    assert result.redacted == "is it ok that [name] goes home alone"
    assert result.kinds == ("name",)
    assert result.warning_kinds == ()
    sure = scan("Kayden Price goes home alone")
    assert sure.warning_kinds == ("name",)
    assert sure.redacted == "[name] goes home alone"


def test_a_date_beside_a_name_is_redacted_as_a_birth_date() -> None:
    assert scan("Amy Jones 03/04/2016 lives with nan").redacted == "[name] [date_of_birth] lives with nan"


def test_kinds_are_sorted_and_the_words_flagged_are_the_sure_ones() -> None:
    text = "Kayden Price was seen at Acorns Nursery with kayden"
    result = scan(text)
    assert result.kinds == ("institution", "name")
    assert result.words_flagged(text) == ("acorns nursery", "kayden", "kayden price")


def test_the_veto_list_is_content_a_safeguarding_lead_extends(tmp_path) -> None:
    (tmp_path / "privacy.yaml").write_text("not_names:\n  - Zebedee\n  - Mallory Protocol\n")
    assert scan("Can Zebedee share it under the Mallory Protocol?").kinds == ("name",)
    use_content(tmp_path)
    try:
        assert scan("Can Zebedee share it under the Mallory Protocol?").findings == ()
    finally:
        use_content(DEFAULT_CONTENT)


def test_content_check_refuses_a_malformed_veto_list(tmp_path) -> None:
    import shutil

    from bot.content import load_content
    from bot.yamlload import ContentError

    root = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT, root)
    (root / "privacy.yaml").write_text("not_names:\n  - 42\n")
    with pytest.raises(ContentError) as error:
        load_content(root)
    assert "privacy.yaml" in str(error.value)


def test_the_names_list_covers_many_origins_in_little_memory() -> None:
    from bot.privacy.lexicon import FIRST, SURNAME, current_lexicon

    names = current_lexicon().names
    for first in ("oliver", "amelia", "mohammed", "priya", "oluwaseun", "kacper", "siobhan", "ioana", "chen", "aisha"):
        assert names[first] & FIRST, first
    surnames = ("smith", "khan", "patel", "nowak", "okafor", "nguyen", "popescu", "begum", "kowalski", "kazlauskas")
    for surname in surnames:
        assert names[surname] & SURNAME, surname
    assert len(names) > 100_000


def test_a_court_that_is_a_home_is_still_an_address() -> None:
    """The veto keeps "Crown Court" (a court) but not "Primrose Court" (a block of flats)."""
    assert scan("she has moved to Primrose Court").redacted == "she has moved to [address]"
    assert scan("Flat 30, Crown Court, Primrose Street").redacted == "[address]"


def test_several_details_in_one_message_are_all_redacted() -> None:
    text = "Her name is Jane Smith, dob 12/03/2015, NHS 943 476 5919, lives at SW1A 1AA, call 07700 900123"
    result = scan(text)
    assert result.kinds == ("date_of_birth", "name", "nhs_number", "phone", "postcode")
    assert result.redacted == ("Her name is [name], dob [date_of_birth], NHS [nhs_number], lives at [postcode], "
                               "call [phone]")


def test_nhs_modulus_11_check() -> None:
    assert nhs_number_valid("9434765919")
    assert not nhs_number_valid("9434765918")  # wrong check digit
    assert not nhs_number_valid("943476591")  # too short
    assert not nhs_number_valid("94347659a9")
    assert not nhs_number_valid("1000000010")  # check digit would be 10: never issued


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_valid_nhs_number_is_caught(nine: str) -> None:
    number = _with_check_digit(nine)
    if number is None:
        return
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    for written in (number, spaced):
        result = scan(f"the number is {written} ok")
        assert "nhs_number" in result.kinds or "phone" in result.kinds
        assert written not in result.redacted


@given(st.text(max_size=300))
def test_scan_never_fails_and_redaction_only_replaces_findings(text: str) -> None:
    result = scan(text)
    if not result.findings:
        assert result.redacted == text
    for finding in result.findings:
        assert 0 <= finding.start < finding.end <= len(text)


def test_log_lines_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.privacy")
    logger.addHandler(handler)
    try:
        logger.warning("question from Mrs Patel about NHS 943 476 5919", extra={"contact": "jane@example.org"})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "943 476 5919" not in line
    assert "jane@example.org" not in line
    assert "Patel" not in line
    assert "[nhs_number]" in line
    assert "[email]" in line
    assert "[name]" in line


def test_every_kind_has_wording_for_the_warning() -> None:
    from bot.content import load_content
    from bot.privacy import KINDS

    strings = load_content(DEFAULT_CONTENT).strings
    assert all(f"privacy.kind.{kind}" in strings for kind in KINDS)
