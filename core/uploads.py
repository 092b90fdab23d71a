"""Checks on files people upload (an applicant's ID card, bank card, licence and shop photos;
a merchant's attachments to a ticket) and the names they are stored and downloaded under.

An upload is trusted for nothing it says about itself: its type comes from its first bytes,
never from its name or the browser's content type. Photos are decoded and re-encoded from their
pixels, so what is stored holds no EXIF (GPS position, camera serial), no comments and no bytes
appended after the image (PHP, HTML or ZIP polyglots). PDFs cannot be re-encoded without
changing what the applicant signed or scanned, so they are stored as uploaded, and only once
they are shown to hold no scripts, attachments or other active content.

Each refusal is a ``ValidationError`` with its own ``code`` and a message that says what is
wrong and what to do.
"""

import hashlib
import io
import logging
import re
import unicodedata
import uuid
import warnings
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps
from pypdf import PasswordType, PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 10 * MIB
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 50
JPEG_QUALITY = 90

# Sniffed MIME type -> (stored content type, extension, the one Pillow decoder allowed to open
# it). An animated PNG is still a PNG; only its first frame is kept.
_ACCEPTED = {
    "image/jpeg": ("image/jpeg", ".jpg", "JPEG"),
    "image/png": ("image/png", ".png", "PNG"),
    "image/apng": ("image/png", ".png", "PNG"),
    "application/pdf": ("application/pdf", ".pdf", None),
}
EXTENSIONS = frozenset(extension for _type, extension, _decoder in _ACCEPTED.values())

# Modes each output format stores as they are; anything else is converted first.
_JPEG_MODES = frozenset({"L", "RGB"})
_PNG_MODES = frozenset({"1", "L", "LA", "RGB", "RGBA", "I;16"})

# PDF keys and name values that make a viewer run code, open another program or carry a file.
# /OpenAction and /Names are not listed: they are harmless on their own, and the actions or
# name trees they point to are walked and refused by what they contain. /XFA forms carry
# scripts of their own.
_PDF_ACTIVE_KEYS = frozenset(
    {
        "/JavaScript",
        "/JS",
        "/Launch",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/RichMedia",
        "/AA",
        "/XFA",
    }
)
_PDF_ACTIVE_VALUES = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/RichMedia",
        "/EmbeddedFile",
        "/FileAttachment",
        "/GoToE",
        "/ImportData",
        "/SubmitForm",
    }
)
# Backstop for objects the walk cannot reach (orphaned or in a broken cross-reference table):
# the name followed by a PDF delimiter, so /JSFont or /JavaScriptX do not match.
_PDF_ACTIVE_BYTES = re.compile(rb"/(?:JavaScript|JS)(?=[\s()<>\[\]{}/%]|\Z)")

_SLOT = re.compile(r"[a-z0-9_]{1,30}")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(10)}
)
_MAX_DOWNLOAD_STEM = 80

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CleanUpload:
    """What to store: ``content`` is the re-encoded image or the unchanged PDF."""

    content: bytes
    content_type: str
    extension: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    pages: int | None


def upload_clean(
    upload: UploadedFile,
    *,
    max_bytes: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> CleanUpload:
    """Check an uploaded photo or PDF and return the bytes to store.

    ``max_bytes`` defaults to ``settings.DOCUMENT_MAX_BYTES`` (10 MiB when unset). Raises
    ``ValidationError`` with code ``empty``, ``too_large``, ``unsupported_type``,
    ``too_many_pixels``, ``damaged``, ``encrypted``, ``pdf_active_content`` or
    ``too_many_pages``.
    """
    if max_bytes is None:
        max_bytes = getattr(settings, "DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES)
    data = _read_limited(upload, max_bytes)
    sniffed = filetype.guess(data)
    if sniffed is None or sniffed.mime not in _ACCEPTED:
        raise ValidationError(
            _("This type of file is not accepted. Upload a photo (JPG or PNG) or a PDF."),
            code="unsupported_type",
        )
    content_type, extension, decoder = _ACCEPTED[sniffed.mime]
    if decoder is None:
        pages = _pdf_check(data)
        return _clean_document(data, content_type, extension, pages=pages)
    content, width, height = _image_reencode(data, decoder, max_pixels=max_pixels)
    return _clean_document(content, content_type, extension, width=width, height=height)


def _read_limited(upload: UploadedFile, max_bytes: int) -> bytes:
    # One byte past the limit tells "exactly at the limit" from "over it" without reading a
    # multi-gigabyte upload into memory.
    upload.seek(0)
    data = upload.read(max_bytes + 1)
    if not data:
        raise ValidationError(
            _("The file is empty. Choose the photo or PDF again and upload it."), code="empty"
        )
    if len(data) > max_bytes:
        raise ValidationError(
            _(
                "The file is larger than %(limit)s MB. Upload a smaller file, for example a "
                "photo taken at a lower resolution."
            ),
            code="too_large",
            params={"limit": f"{max_bytes / MIB:.3g}"},
        )
    return data


def _clean_document(
    content: bytes,
    content_type: str,
    extension: str,
    *,
    width: int | None = None,
    height: int | None = None,
    pages: int | None = None,
) -> CleanUpload:
    return CleanUpload(
        content=content,
        content_type=content_type,
        extension=extension,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        width=width,
        height=height,
        pages=pages,
    )


# ---------------------------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------------------------


def _too_many_pixels(max_pixels: int) -> ValidationError:
    return ValidationError(
        _(
            "This image has too many pixels (more than %(megapixels)s million). Upload a photo "
            "taken at a lower resolution."
        ),
        code="too_many_pixels",
        params={"megapixels": f"{max_pixels / 1_000_000:g}"},
    )


def _image_damaged() -> ValidationError:
    return ValidationError(
        _(
            "This image could not be read: the file is damaged or incomplete. Take or export "
            "the photo again and upload it."
        ),
        code="damaged",
    )


def _image_reencode(data: bytes, decoder: str, *, max_pixels: int) -> tuple[bytes, int, int]:
    """Decode the image and encode its pixels into a new file; return it with its size."""
    # Pillow's own bomb check warns before it refuses; as an error it stops the decoder at the
    # header like the limit below. catch_warnings is process-wide, but only for this block.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # Only the header is read here; the pixels are decoded by load().
            image = Image.open(io.BytesIO(data), formats=[decoder])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise _too_many_pixels(max_pixels) from error
        except Exception as error:
            raise _image_damaged() from error
        width, height = image.size
        if width < 1 or height < 1:
            raise _image_damaged()
        if width * height > max_pixels:
            raise _too_many_pixels(max_pixels)
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise _too_many_pixels(max_pixels) from error
        except Exception as error:
            raise _image_damaged() from error

    try:
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError) as error:
        # Broken EXIF on intact pixels: keep the photo unrotated rather than refuse it.
        logger.info("ignoring unreadable EXIF orientation: %s", error)

    output = io.BytesIO()
    if decoder == "JPEG":
        pixels = _for_jpeg(image)
        pixels.info = {}  # else Pillow copies the comment segment, a usual home for PHP
        pixels.save(output, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        pixels = _for_png(image)
        transparency = pixels.info.get("transparency") if pixels.mode in ("1", "L") else None
        pixels.info = {}  # else Pillow copies the ICC profile chunk
        options = {} if transparency is None else {"transparency": transparency}
        pixels.save(output, "PNG", **options)
    return output.getvalue(), pixels.width, pixels.height


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _for_jpeg(image: Image.Image) -> Image.Image:
    if image.mode in _JPEG_MODES:
        return image
    if image.mode == "1":
        return image.convert("L")
    if _has_alpha(image):
        # JPEG has no transparency: transparent areas become white, as on a printed page.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")  # CMYK, YCbCr and the rest


def _for_png(image: Image.Image) -> Image.Image:
    # A grey image's transparent shade is kept as a number; any other transparent colour or
    # palette entry becomes RGBA, so no palette or tRNS chunk is copied over byte for byte.
    keyed = "transparency" in image.info and image.mode not in ("1", "L")
    if image.mode in _PNG_MODES and not keyed:
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


# ---------------------------------------------------------------------------------------------
# PDFs
# ---------------------------------------------------------------------------------------------


def _pdf_damaged() -> ValidationError:
    return ValidationError(
        _(
            "This PDF could not be read: the file is damaged or incomplete. Save or export it "
            "again and upload it."
        ),
        code="damaged",
    )


def _pdf_check(data: bytes) -> int:
    """Refuse a PDF that cannot be read, needs a password, is too long or can run code;
    return its page count."""
    if not data.startswith(b"%PDF-"):
        raise _pdf_damaged()
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Encrypted with an empty user password ("permissions only", common on bank
            # statements) opens in any viewer without asking, so it is not refused.
            opened = reader.decrypt("")
            if opened == PasswordType.NOT_DECRYPTED:
                raise ValidationError(
                    _(
                        "This PDF is protected by a password. Remove the password, for "
                        "example by printing it to a new PDF, and upload it again."
                    ),
                    code="encrypted",
                )
        pages = len(reader.pages)
    except ValidationError:
        raise
    except Exception as error:
        raise _pdf_damaged() from error
    if pages < 1:
        raise _pdf_damaged()
    if pages > MAX_PDF_PAGES:
        raise ValidationError(
            _(
                "This PDF has %(pages)d pages; at most %(limit)d are accepted. Upload only "
                "the pages that are needed."
            ),
            code="too_many_pages",
            params={"pages": pages, "limit": MAX_PDF_PAGES},
        )
    try:
        active = _pdf_has_active_content(reader)
    except Exception as error:
        raise _pdf_damaged() from error
    if active or _PDF_ACTIVE_BYTES.search(data):
        raise ValidationError(
            _(
                "This PDF contains scripts, attached files or other active content, which "
                "are not accepted. Print it to a new PDF, or upload a photo of the document "
                "instead."
            ),
            code="pdf_active_content",
        )
    return pages


def _pdf_has_active_content(reader: PdfReader) -> bool:
    """Walk every object reachable from the trailer (catalog, names trees, pages,
    annotations, actions) looking for the keys and values that make a viewer act."""
    stack: list[object] = [reader.trailer]
    seen: set[tuple[int, int]] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            reference = (node.idnum, node.generation)
            if reference in seen:
                continue
            seen.add(reference)
            node = node.get_object()
        if isinstance(node, DictionaryObject):  # stream dictionaries too; data is not read
            for key, value in dict.items(node):
                if key in _PDF_ACTIVE_KEYS:
                    return True
                stack.append(value)
        elif isinstance(node, ArrayObject):
            stack.extend(node)
        elif isinstance(node, NameObject) and node in _PDF_ACTIVE_VALUES:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


def storage_name(slot: str, extension: str, *, folder: str = "documents") -> str:
    """A new random path to store an upload under, e.g.
    ``documents/2026/11/id_front-3f2b….jpg``. Nothing of the uploaded file's name is used, so
    a name like ``../../etc/passwd.jpg`` can steer nothing."""
    if not _SLOT.fullmatch(slot):
        raise ValueError(f"slot must be lower-case letters, digits or _: {slot!r}")
    if not _SLOT.fullmatch(folder):
        raise ValueError(f"folder must be lower-case letters, digits or _: {folder!r}")
    if extension not in EXTENSIONS:
        raise ValueError(f"extension must be one of {sorted(EXTENSIONS)}: {extension!r}")
    month = timezone.localtime(timezone.now())
    return f"{folder}/{month:%Y/%m}/{slot}-{uuid.uuid4().hex}{extension}"


def safe_download_name(label: str, extension: str) -> str:
    """An ASCII file name for ``Content-Disposition``, e.g. ``ID-card-photo-side.jpg``.

    Accents are dropped, anything else outside letters, digits, ``.``, ``_`` and ``-`` becomes
    ``-``; a label with nothing left (all Chinese, say) becomes ``document``. Views that want
    the Chinese name can add it as ``filename*``; Django's ``FileResponse`` does.
    """
    if extension not in EXTENSIONS:
        raise ValueError(f"extension must be one of {sorted(EXTENSIONS)}: {extension!r}")
    ascii_label = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode()
    stem = _UNSAFE_NAME_CHARS.sub("-", ascii_label)
    stem = re.sub(r"-{2,}", "-", stem)[:_MAX_DOWNLOAD_STEM].strip("-._")
    if not stem:
        stem = "document"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = f"{stem}-document"
    return f"{stem}{extension}"


class SizeLimitUploadHandler(TemporaryFileUploadHandler):
    """Stops storing an uploaded file as soon as it passes UPLOAD_MAX_BYTES, instead of writing
    a gigabyte to disk before any view can look at it; the view sees ``upload_too_large`` on
    the request. A reverse proxy should cap request bodies too (see the README)."""

    def new_file(self, *args, **kwargs):
        self.received = 0
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def upload_too_large(request) -> bool:
    return getattr(request, "upload_too_large", False)
