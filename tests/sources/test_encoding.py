"""Charset handling of downloads: declarations are used only when the bytes agree."""

from __future__ import annotations

import codecs

import pytest

from yuqing.sources.encoding import decode_body, normalise_charset

NEWS = "关于做好春季森林防火工作的通知：各区县人民政府，春季是森林火灾高发期，请加强巡查。"
BIG5_NEWS = "臺灣大學舉辦校慶典禮，師生與校友齊聚一堂，共同慶祝建校紀念日。"


def test_bom_wins_over_everything() -> None:
    body = codecs.BOM_UTF8 + NEWS.encode("utf-8")
    decoded = decode_body(body, "text/html; charset=gbk")
    assert (decoded.text, decoded.encoding, decoded.source) == (NEWS, "utf-8", "bom")
    assert decoded.declared == "gbk"


def test_utf16_bom() -> None:
    decoded = decode_body(codecs.BOM_UTF16_LE + NEWS.encode("utf-16-le"), None)
    assert (decoded.text, decoded.source) == (NEWS, "bom")


def test_header_gb2312_is_read_as_gb18030() -> None:
    # "𠀀" and "・" are outside GB2312 but common on "gb2312" pages.
    text = NEWS + "𠀀・"
    decoded = decode_body(text.encode("gb18030"), 'text/html; charset="GB2312"')
    assert (decoded.text, decoded.encoding, decoded.source) == (text, "gb18030", "header")
    assert decoded.declared == "gb2312"


def test_xml_declaration() -> None:
    body = f'<?xml version="1.0" encoding="gbk"?><rss><title>{NEWS}</title></rss>'
    decoded = decode_body(body.encode("gb18030"), "application/rss+xml")
    assert NEWS in decoded.text
    assert (decoded.encoding, decoded.source, decoded.declared) == ("gb18030", "xml", "gbk")


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="big5">',
        '<meta http-equiv="Content-Type" content="text/html; charset=big5">',
    ],
)
def test_meta_big5(meta: str) -> None:
    body = f"<html><head>{meta}</head><body>{BIG5_NEWS}</body></html>".encode("big5")
    decoded = decode_body(body, "text/html")
    assert BIG5_NEWS in decoded.text
    assert (decoded.encoding, decoded.source) == ("big5hkscs", "meta")


def test_header_utf8_but_bytes_gbk_falls_back_to_detection() -> None:
    body = f"<html><body><p>{NEWS}</p><p>{NEWS}</p></body></html>".encode("gb18030")
    decoded = decode_body(body, "text/html; charset=utf-8")
    assert NEWS in decoded.text
    assert (decoded.encoding, decoded.source, decoded.declared) == ("gb18030", "detected", "utf-8")


def test_meta_gb2312_but_bytes_utf8_gives_utf8() -> None:
    body = f'<html><head><meta charset="gb2312"></head><body>{NEWS}</body></html>'.encode()
    decoded = decode_body(body, None)
    assert NEWS in decoded.text
    assert (decoded.encoding, decoded.source, decoded.declared) == ("utf-8", "detected", "gb2312")


def test_latin1_label_on_utf8_page() -> None:
    body = f'<meta http-equiv="content-type" content="text/html; charset=iso-8859-1">{NEWS}'
    assert NEWS in decode_body(body.encode(), None).text


def test_latin1_label_means_windows_1252() -> None:
    body = b"<?xml version='1.0' encoding='iso-8859-1'?><p>\x93quoted\x94 \xa3</p>"
    decoded = decode_body(body, None)
    assert "“quoted” £" in decoded.text
    assert decoded.encoding == "cp1252"


def test_undeclared_gbk_and_big5_are_detected() -> None:
    gbk = decode_body(f"<rss><title>{NEWS}</title></rss>".encode("gbk"), None)
    big5 = decode_body(f"<feed><title>{BIG5_NEWS}</title></feed>".encode("big5"), None)
    assert (NEWS in gbk.text, gbk.encoding, gbk.source) == (True, "gb18030", "detected")
    assert BIG5_NEWS in big5.text
    assert big5.encoding in ("big5hkscs", "cp950")


def test_body_cut_mid_character_is_still_utf8() -> None:
    body = NEWS.encode("utf-8")[:-1]
    decoded = decode_body(body, None)
    assert decoded.encoding == "utf-8"
    assert decoded.text.startswith(NEWS[:-1])


def test_a_few_bad_bytes_keep_the_declared_charset() -> None:
    body = (NEWS * 20).encode("gb18030") + b"\xff"
    decoded = decode_body(body, "text/html; charset=gbk")
    assert (decoded.encoding, decoded.source) == ("gb18030", "header")
    assert decoded.text.startswith(NEWS)


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00\x01\x02\xff\xfe\xfd" * 50, bytes(range(256)) * 4, b"\x81" * 33],
)
def test_never_raises_on_garbage(body: bytes) -> None:
    decoded = decode_body(body, "text/html; charset=no-such-charset")
    assert isinstance(decoded.text, str)
    assert decoded.source in ("bom", "header", "xml", "meta", "detected", "fallback")


def test_unknown_and_utf16_labels() -> None:
    assert normalise_charset("no-such-charset") == []
    assert normalise_charset("x-gbk") == ["gb18030"]
    assert normalise_charset("BIG5") == ["big5hkscs", "cp950"]
    # An XML declaration readable as ASCII cannot be telling the truth about UTF-16.
    body = f'<?xml version="1.0" encoding="utf-16"?><rss><title>{NEWS}</title></rss>'
    assert NEWS in decode_body(body.encode("utf-8"), None).text
