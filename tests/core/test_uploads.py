"""Every sample is made here, at test time: no binary fixtures in the repository."""

import hashlib
import io
import random
import re
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.utils import timezone
from PIL import ExifTags, Image
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from core.uploads import (
    MAX_PDF_PAGES,
    CleanUpload,
    safe_download_name,
    storage_name,
    upload_clean,
)

PHP = b"<?php system($_GET['c']); ?>"
ZIP_TAIL = b"PK\x05\x06" + bytes(18)  # an empty ZIP archive's end record


# ---------------------------------------------------------------------------------------------
# Sample makers
# ---------------------------------------------------------------------------------------------


def upload(content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def noise_image(size=(64, 48), mode="RGB", seed=0) -> Image.Image:
    """Random pixels: they compress badly, so a JPEG of them is long enough to cut in half."""
    channels = len(Image.new(mode, (1, 1)).getbands())
    data = random.Random(seed).randbytes(size[0] * size[1] * channels)
    return Image.frombytes(mode, size, data)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    output = io.BytesIO()
    image.save(output, fmt, **options)
    return output.getvalue()


def two_colour_image(size=(40, 20)) -> Image.Image:
    """Left half red, right half blue, so a rotation can be seen."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bilevel_png(width: int, height: int, *, rows: int | None = None) -> bytes:
    """A black 1-bit PNG, compressed row by row so it is never whole in memory. ``rows`` stops
    the pixel data early, leaving a file that cannot be decoded."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte, then the packed pixels
    compressor = zlib.compressobj(9)
    compressed = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows))
    compressed += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", compressed)
        + png_chunk(b"IEND", b"")
    )


def pdf_writer(pages: int = 1) -> PdfWriter:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    return writer


def pdf_bytes(writer: PdfWriter) -> bytes:
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def pdf_upload(content: bytes) -> SimpleUploadedFile:
    return upload(content, name="licence.pdf", content_type="application/pdf")


def refusal_code(uploaded, **limits) -> str:
    with pytest.raises(ValidationError) as refused:
        upload_clean(uploaded, **limits)
    return refused.value.code


class CountingStream(io.BytesIO):
    def __init__(self, content: bytes):
        super().__init__(content)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


# ---------------------------------------------------------------------------------------------
# Size and type
# ---------------------------------------------------------------------------------------------


def test_empty_file_is_refused():
    assert refusal_code(upload(b"")) == "empty"


def test_file_over_the_limit_is_refused_with_the_limit_in_mb():
    content = encode(noise_image(), "JPEG")

    with pytest.raises(ValidationError) as refused:
        upload_clean(upload(content), max_bytes=len(content) - 1)

    assert refused.value.code == "too_large"
    assert "MB" in str(refused.value.message)


def test_file_exactly_at_the_limit_is_accepted():
    content = encode(noise_image(), "JPEG")

    document = upload_clean(upload(content), max_bytes=len(content))

    assert document.content_type == "image/jpeg"


def test_default_limit_comes_from_settings(settings):
    settings.DOCUMENT_MAX_BYTES = 100

    assert refusal_code(upload(encode(noise_image(), "JPEG"))) == "too_large"


def test_huge_upload_is_read_only_one_byte_past_the_limit():
    stream = CountingStream(b"\xff\xd8\xff" + bytes(5_000_000))
    huge = UploadedFile(file=stream, name="huge.jpg", content_type="image/jpeg", size=5_000_003)

    assert refusal_code(huge, max_bytes=1000) == "too_large"
    assert stream.bytes_read == 1001


@pytest.mark.parametrize(
    ("name", "content_type", "content"),
    [
        pytest.param("id_front.jpg", "image/jpeg", b"just some text\n", id="text-renamed-jpg"),
        pytest.param(
            "card.svg",
            "image/svg+xml",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(document.cookie)</script></svg>",
            id="svg-with-script",
        ),
        pytest.param(
            "licence.png",
            "image/png",
            b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
            id="html",
        ),
        pytest.param("shop.pdf", "application/pdf", b"GIF89a" + bytes(32), id="gif"),
        pytest.param("scan.jpg", "image/jpeg", b"MZ\x90\x00" + bytes(60), id="windows-exe"),
        pytest.param("scan.png", "image/png", ZIP_TAIL, id="zip"),
    ],
)
def test_files_that_are_not_photos_or_pdfs_are_refused_whatever_their_name(
    name, content_type, content
):
    assert refusal_code(upload(content, name, content_type)) == "unsupported_type"


def test_type_comes_from_content_not_name_or_browser_type():
    png = encode(noise_image(), "PNG")

    document = upload_clean(upload(png, name="scan.pdf", content_type="application/pdf"))

    assert (document.content_type, document.extension) == ("image/png", ".png")


# ---------------------------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------------------------


def test_valid_jpeg_is_re_encoded_with_its_size_and_hash():
    document = upload_clean(upload(encode(noise_image((64, 48)), "JPEG")))

    assert isinstance(document, CleanUpload)
    assert (document.content_type, document.extension) == ("image/jpeg", ".jpg")
    assert (document.width, document.height, document.pages) == (64, 48, None)
    assert document.size == len(document.content)
    assert document.sha256 == hashlib.sha256(document.content).hexdigest()
    assert Image.open(io.BytesIO(document.content)).format == "JPEG"


def test_png_with_php_appended_is_stored_without_it():
    original = noise_image((30, 20))

    document = upload_clean(upload(encode(original, "PNG") + PHP, name="shell.php.png"))

    assert PHP[:5] not in document.content
    stored = Image.open(io.BytesIO(document.content))
    assert (stored.format, stored.size) == ("PNG", (30, 20))
    assert stored.tobytes() == original.tobytes()


def test_jpeg_php_polyglot_is_stored_without_the_php():
    # PHP in the JPEG comment segment and again after the end-of-image marker, plus a ZIP tail.
    polyglot = encode(noise_image((30, 20)), "JPEG", comment=PHP) + PHP + ZIP_TAIL

    document = upload_clean(upload(polyglot, name="avatar.jpg"))

    assert PHP[:5] not in document.content
    assert b"PK\x05\x06" not in document.content
    stored = Image.open(io.BytesIO(document.content))
    assert (stored.format, stored.size) == ("JPEG", (30, 20))
    assert "comment" not in stored.info


def test_jpeg_magic_bytes_in_front_of_html_is_damaged():
    assert refusal_code(upload(b"\xff\xd8\xff\xe0<html><script>alert(1)</script>")) == "damaged"


def test_truncated_jpeg_is_damaged():
    content = encode(noise_image((200, 150)), "JPEG", quality=95)

    assert refusal_code(upload(content[: len(content) // 2])) == "damaged"


def test_png_with_a_corrupt_checksum_is_damaged():
    content = bytearray(encode(noise_image((20, 20)), "PNG"))
    idat = content.index(b"IDAT")
    content[idat + 10] ^= 0xFF

    assert refusal_code(upload(bytes(content), name="scan.png")) == "damaged"


def test_decompression_bomb_png_is_refused_before_decoding(tmp_path):
    # 10,000 x 10,000 pixels, about 12 KB on disk.
    path = tmp_path / "bomb.png"
    path.write_bytes(bilevel_png(10_000, 10_000))

    with path.open("rb") as file:
        bomb = UploadedFile(file=file, name="bomb.png", content_type="image/png")
        code = refusal_code(bomb)

    assert path.stat().st_size < 100_000
    assert code == "too_many_pixels"


def test_pillow_own_pixel_limit_still_applies_when_a_caller_raises_the_limit():
    bomb = bilevel_png(10_000, 10_000, rows=1)

    assert refusal_code(upload(bomb, name="bomb.png"), max_pixels=10**9) == "too_many_pixels"


def test_pixel_limit_is_checked_on_the_header_alone():
    # The header promises 7,000 x 7,000 pixels (over 40 million, under Pillow's own limit) but
    # the data holds one row: decoding it would fail as damaged, so too_many_pixels shows the
    # pixels were never decoded.
    header_only = bilevel_png(7_000, 7_000, rows=1)

    assert refusal_code(upload(header_only, name="big.png")) == "too_many_pixels"


def test_pixel_limit_can_be_lowered_per_call():
    content = encode(noise_image((100, 100)), "PNG")

    assert refusal_code(upload(content, name="a.png"), max_pixels=9_999) == "too_many_pixels"


def test_jpeg_exif_and_gps_are_removed_and_orientation_applied():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: turn 90° clockwise to display
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.0)
    content = encode(two_colour_image((40, 20)), "JPEG", exif=exif, quality=95)
    assert Image.open(io.BytesIO(content)).getexif()  # the sample does carry EXIF

    document = upload_clean(upload(content))

    stored = Image.open(io.BytesIO(document.content))
    assert dict(stored.getexif()) == {}
    assert b"PhoneMaker" not in document.content
    assert stored.size == (20, 40) == (document.width, document.height)
    top, bottom = stored.convert("RGB").getpixel((10, 5)), stored.convert("RGB").getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_cmyk_jpeg_is_accepted_as_rgb():
    content = encode(Image.new("CMYK", (30, 20), (0, 255, 255, 0)), "JPEG")

    document = upload_clean(upload(content))

    stored = Image.open(io.BytesIO(document.content))
    assert (document.content_type, stored.mode, stored.size) == ("image/jpeg", "RGB", (30, 20))


def test_palette_png_keeps_its_transparency():
    image = Image.new("P", (30, 20), 1)
    image.putpalette([255, 255, 255, 0, 128, 0] + [0] * 762)
    image.paste(0, (0, 0, 10, 20))  # the left third uses colour 0, made transparent below
    content = encode(image, "PNG", transparency=0)

    document = upload_clean(upload(content, name="licence.png", content_type="image/png"))

    stored = Image.open(io.BytesIO(document.content))
    assert (document.content_type, stored.mode, stored.size) == ("image/png", "RGBA", (30, 20))
    assert stored.getpixel((2, 2))[3] == 0
    assert stored.getpixel((20, 10)) == (0, 128, 0, 255)


def test_png_text_chunks_are_not_kept():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", PHP.decode())
    content = encode(noise_image((10, 10)), "PNG", pnginfo=info)

    document = upload_clean(upload(content, name="a.png"))

    assert b"<?php" not in document.content
    assert b"tEXt" not in document.content


def test_png_colour_profile_is_not_kept():
    content = encode(noise_image((10, 10)), "PNG", icc_profile=b"profile " + PHP)

    document = upload_clean(upload(content, name="a.png"))

    assert b"iCCP" in content
    assert b"iCCP" not in document.content


def test_path_traversal_name_is_accepted_and_not_used_for_storage():
    content = encode(noise_image(), "JPEG")

    document = upload_clean(upload(content, name="../../etc/passwd.jpg"))
    name = storage_name("id_front", document.extension)

    assert document.content_type == "image/jpeg"
    assert re.fullmatch(r"documents/\d{4}/\d{2}/id_front-[0-9a-f]{32}\.jpg", name)
    assert "passwd" not in name and "etc" not in name and ".." not in name


# ---------------------------------------------------------------------------------------------
# PDFs
# ---------------------------------------------------------------------------------------------


def test_valid_pdf_is_stored_unchanged_with_its_page_count():
    content = pdf_bytes(pdf_writer(pages=3))

    document = upload_clean(pdf_upload(content))

    assert document.content == content
    assert (document.content_type, document.extension) == ("application/pdf", ".pdf")
    assert (document.pages, document.width, document.height) == (3, None, None)
    assert document.sha256 == hashlib.sha256(content).hexdigest()


def test_pdf_opening_on_a_page_is_not_active_content():
    writer = pdf_writer()
    writer._root_object[NameObject("/OpenAction")] = ArrayObject(
        [writer.pages[0].indirect_reference, NameObject("/Fit")]
    )

    assert upload_clean(pdf_upload(pdf_bytes(writer))).pages == 1


def test_pdf_with_document_javascript_is_refused():
    writer = pdf_writer()
    writer.add_open_action(JavaScript("app.alert('hi');"))

    assert refusal_code(pdf_upload(pdf_bytes(writer))) == "pdf_active_content"


def test_pdf_open_action_running_javascript_is_refused():
    writer = pdf_writer()
    action = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.launchURL('http://example.com');"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)

    assert refusal_code(pdf_upload(pdf_bytes(writer))) == "pdf_active_content"


def test_pdf_launch_action_hidden_behind_a_hex_escaped_name_is_refused():
    writer = pdf_writer()
    action = DictionaryObject(
        {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")}
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    # Viewers read /L#61unch as /Launch; a byte scan for the plain name would miss it.
    content = pdf_bytes(writer).replace(b"/Launch", b"/L#61unch")
    assert b"/Launch" not in content

    assert refusal_code(pdf_upload(content)) == "pdf_active_content"


def test_pdf_with_page_additional_actions_is_refused():
    writer = pdf_writer()
    submit = DictionaryObject(
        {NameObject("/S"): NameObject("/SubmitForm"), NameObject("/F"): TextStringObject("x")}
    )
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): submit})

    assert refusal_code(pdf_upload(pdf_bytes(writer))) == "pdf_active_content"


def test_pdf_with_an_embedded_file_is_refused():
    writer = pdf_writer()
    writer.add_attachment("invoice.exe", b"MZ\x90\x00")

    assert refusal_code(pdf_upload(pdf_bytes(writer))) == "pdf_active_content"


def test_pdf_with_a_link_annotation_to_a_web_page_is_accepted():
    writer = pdf_writer()
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (10, 10, 100, 30)]),
            NameObject("/A"): DictionaryObject(
                {
                    NameObject("/S"): NameObject("/URI"),
                    NameObject("/URI"): TextStringObject("https://www.gsxt.gov.cn/"),
                }
            ),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])

    assert upload_clean(pdf_upload(pdf_bytes(writer))).pages == 1


def test_pdf_javascript_in_an_unreachable_object_is_caught_by_the_byte_scan():
    content = pdf_bytes(pdf_writer())
    # After the end marker: no cross-reference entry points at it, but it is in the file.
    content += b"99 0 obj\n<< /S /JavaScript /JS (app.alert(1)) >>\nendobj\n"

    assert refusal_code(pdf_upload(content)) == "pdf_active_content"


def test_password_protected_pdf_is_refused():
    writer = pdf_writer()
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")

    assert refusal_code(pdf_upload(pdf_bytes(writer))) == "encrypted"


def test_pdf_restricted_by_owner_password_only_is_accepted_unchanged():
    # Bank statements often come like this: encrypted, but open without asking for anything.
    writer = pdf_writer(pages=2)
    writer.encrypt(user_password="", owner_password="bank", algorithm="AES-128")
    content = pdf_bytes(writer)
    assert PdfReader(io.BytesIO(content)).is_encrypted

    document = upload_clean(pdf_upload(content))

    assert (document.content, document.pages) == (content, 2)


def test_pdf_with_too_many_pages_is_refused():
    content = pdf_bytes(pdf_writer(pages=MAX_PDF_PAGES + 1))

    with pytest.raises(ValidationError) as refused:
        upload_clean(pdf_upload(content))

    assert refused.value.code == "too_many_pages"
    assert refused.value.params == {"pages": MAX_PDF_PAGES + 1, "limit": MAX_PDF_PAGES}


def test_pdf_at_the_page_limit_is_accepted():
    content = pdf_bytes(pdf_writer(pages=MAX_PDF_PAGES))

    assert upload_clean(pdf_upload(content)).pages == MAX_PDF_PAGES


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"%PDF-1.7\n" + bytes(200), id="header-only"),
        pytest.param(b"%PDF\n1 0 obj << >> endobj", id="no-version"),
    ],
)
def test_unreadable_pdf_is_damaged(content):
    assert refusal_code(pdf_upload(content)) == "damaged"


def test_truncated_pdf_is_damaged():
    content = pdf_bytes(pdf_writer(pages=2))

    assert refusal_code(pdf_upload(content[: len(content) // 3])) == "damaged"


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


def test_storage_name_is_random_and_dated():
    today = timezone.localdate()

    first = storage_name("bank_card", ".png")
    second = storage_name("bank_card", ".png")

    assert first != second
    assert first.startswith(f"documents/{today:%Y/%m}/bank_card-")
    assert first.endswith(".png")


@pytest.mark.parametrize(
    ("slot", "extension"),
    [("../etc", ".jpg"), ("id_front", ".php"), ("ID FRONT", ".jpg"), ("id_front", "jpg")],
)
def test_storage_name_refuses_a_bad_slot_or_extension(slot, extension):
    with pytest.raises(ValueError):
        storage_name(slot, extension)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("ID card, photo side", "ID-card-photo-side.jpg"),
        ("身份证人像面", "document.jpg"),
        ("营业执照 Business licence", "Business-licence.jpg"),
        ("Café façade", "Cafe-facade.jpg"),
        ("../../etc/passwd", "etc-passwd.jpg"),
        ('a"b;\r\nc', "a-b-c.jpg"),
        ("CON", "CON-document.jpg"),
        ("", "document.jpg"),
    ],
)
def test_safe_download_name_is_plain_ascii(label, expected):
    assert safe_download_name(label, ".jpg") == expected


def test_safe_download_name_is_bounded():
    name = safe_download_name("x" * 500, ".pdf")

    assert name == "x" * 80 + ".pdf"
