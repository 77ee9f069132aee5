"""Benchmark part `documents_pdf` of group `documents`: PDF rendering of closing documents.

A seller (tests/factories/sellers.py), a buyer and 1 + 2 × N one-page acts of three lines each, built with the ORM
(the issuing services are not what is measured). Figures:
- documents.pdf_ms_p50: the median time of `document_pdf_bytes` for a one-page act (HTML from the template, then
  WeasyPrint with the bundled fonts), after a warm-up, over 40 renders (target ≤ 80 ms), and
  documents.pdf_cpu_ms_p50, the same renders' median CPU time of this process (what a busy machine inflates
  least: the wall time also counts waiting for a core);
- documents.pdf_per_s_1, documents.pdf_per_s_2: PDFs rendered and stored per second by 1 and 2 worker processes,
  each running the `documents_render` task body on chunks of 20 ids (load, render, store the file, one UPDATE per
  chunk), N documents in all, each process warmed up on one document first. Every PDF is checked stored after.
Stored files go to a throwaway MEDIA_ROOT (the worker processes inherit it through the environment).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import queue
import shutil
import statistics
import tempfile
import time
from decimal import Decimal

RENDERS = int(os.environ.get("BENCH_PDF_RENDERS", "40"))
DOCUMENTS = int(os.environ.get("BENCH_PDF_DOCUMENTS", "60"))  # per throughput measurement
CHUNK = 20
LINES = [
    ("Подписка «Бизнес» за октябрь 2026 г.", Decimal("1"), Decimal("12200.00"), "22"),
    ("Дополнительные пользователи", Decimal("3"), Decimal("3660.00"), "22"),
    ("Хранилище сверх тарифа, ГБ", Decimal("25"), Decimal("1525.00"), "22"),
]


def _seed(count: int) -> list[int]:
    """`count` issued one-page acts of one seller to one buyer; their ids."""
    from billing.models import Seller
    from documents.models import DocumentType
    from tests.documents.pdf.builders import buyer_create, document_create
    from tests.factories.sellers import seller_create

    seller = Seller.objects.filter(inn="7810123451").first() or seller_create(name="ООО «Бенчмарк»", inn="7810123451")
    buyer = buyer_create(name="Покупатель бенчмарка")
    start = (seller.documents.order_by("-sequence").values_list("sequence", flat=True).first() or 0) + 1
    return [
        document_create(
            seller=seller,
            customer=buyer,
            doc_type=DocumentType.ACT,
            number=f"АКТ-2026-{n:06d}",
            sequence=n,
            lines=LINES,
        ).pk
        for n in range(start, start + count)
    ]


def _latency(document_id: int) -> tuple[float, float]:
    from pypdf import PdfReader

    from documents.models import Document
    from documents.rendering import document_pdf_bytes, documents_for_rendering

    document = documents_for_rendering([document_id])[0]
    pdf = document_pdf_bytes(document)  # warm-up: templates, fonts, WeasyPrint's caches
    if pdf != document_pdf_bytes(document):
        raise AssertionError("the same document rendered to different bytes")
    if len(PdfReader(io.BytesIO(pdf)).pages) != 1:
        raise AssertionError("the act is not one page")
    times, cpu_times = [], []
    for _ in range(RENDERS):
        document = Document.objects.prefetch_related("lines").select_related("refers_to").get(pk=document_id)
        started, cpu_started = time.perf_counter(), time.process_time()
        document_pdf_bytes(document)
        times.append((time.perf_counter() - started) * 1000)
        cpu_times.append((time.process_time() - cpu_started) * 1000)
    return statistics.median(times), statistics.median(cpu_times)


def _worker(chunks: list[list[int]], warmup_id: int, start, results) -> None:
    import django

    django.setup()
    try:
        from documents.rendering import document_pdf_bytes, documents_for_rendering
        from documents.tasks import documents_render

        document_pdf_bytes(documents_for_rendering([warmup_id])[0])
        start.wait()
        began = time.time()
        rendered = sum(documents_render(chunk) for chunk in chunks)
        results.put((began, time.time(), rendered))
    except BaseException as exc:
        start.abort()
        results.put(exc)
        raise


def _throughput(ids: list[int], workers: int, warmup_id: int) -> float:
    chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(chunks[w::workers], warmup_id, start, results)) for w in range(workers)]
    for p in procs:
        p.start()
    outcomes = []
    while len(outcomes) < workers:
        try:
            outcomes.append(results.get(timeout=5))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                break
    for p in procs:
        p.join()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures or len(outcomes) < workers or any(p.exitcode for p in procs):
        raise RuntimeError(f"PDF worker process failed: {failures or [p.exitcode for p in procs]}")
    rendered = sum(r for _, _, r in outcomes)
    if rendered != len(ids):
        raise AssertionError(f"{rendered} PDFs rendered for {len(ids)} documents")
    _check_stored(ids)
    return rendered / (max(end for _, end, _ in outcomes) - min(began for began, _, _ in outcomes))


def _check_stored(ids: list[int]) -> None:
    from django.core.files.storage import default_storage

    from documents.models import Document

    missing = [
        pk
        for pk, name, digest in Document.objects.filter(pk__in=ids).values_list("pk", "pdf", "pdf_sha256")
        if not (name and digest and default_storage.exists(name))
    ]
    if missing:
        raise AssertionError(f"documents without a stored PDF: {missing[:10]}")


def run():
    from django.conf import settings

    media = tempfile.mkdtemp(prefix="bench-pdf-media-")
    previous_env, previous_root = os.environ.get("MEDIA_ROOT"), settings.MEDIA_ROOT
    os.environ["MEDIA_ROOT"] = media  # the worker processes read it at django.setup()
    settings.MEDIA_ROOT = media
    try:
        ids = _seed(1 + 2 * DOCUMENTS)
        warmup_id, one, two = ids[0], ids[1 : 1 + DOCUMENTS], ids[1 + DOCUMENTS :]
        wall, cpu = _latency(warmup_id)
        yield "documents.pdf_ms_p50", wall, "ms"
        yield "documents.pdf_cpu_ms_p50", cpu, "ms"
        yield "documents.pdf_per_s_1", _throughput(one, 1, warmup_id), "pdf/s"
        yield "documents.pdf_per_s_2", _throughput(two, 2, warmup_id), "pdf/s"
    finally:
        settings.MEDIA_ROOT = previous_root
        if previous_env is None:
            os.environ.pop("MEDIA_ROOT", None)
        else:
            os.environ["MEDIA_ROOT"] = previous_env
        shutil.rmtree(media, ignore_errors=True)
