// The engine's pool carves its blocks from 2 MiB chunks (engine/src/handle.cpp): a chunk is
// unmapped once every block carved from it came back, from whichever thread, and a thread's
// later chunks of a size class are advised onto transparent huge pages. Apart from
// tst_alloc, which replaces operator new (ThreadSanitizer's runtime defines it): these
// tests, whose blocks cross threads, also run under ThreadSanitizer.

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QFile>
#include <QTest>

#include <thread>
#include <vector>

using namespace loopscope;

namespace {
//! A callSoon handle of 72 bytes, made on this thread.
detail::Ref<detail::HandleBase> makeHandle(int i)
{
    auto fn = [i, j = i, k = i] { (void)(i + j + k); };
    return detail::Ref<detail::HandleBase>(
            new detail::CallbackHandle<decltype(fn)>(HandleKind::CallSoon, {}, std::move(fn)));
}

//! The VmFlags of the mapping of this process that holds \a address ("" if none does).
QByteArray vmFlagsAt(const void *address)
{
    QFile smaps(QStringLiteral("/proc/self/smaps"));
    if (!smaps.open(QIODevice::ReadOnly))
        return {};
    const auto at = reinterpret_cast<quintptr>(address);
    bool inside = false;
    for (const QByteArray &line : smaps.readAll().split('\n')) {
        const int dash = line.indexOf('-');
        const int space = line.indexOf(' ');
        if (dash > 0 && space > dash && !line.startsWith("VmFlags")) {
            bool ok1 = false, ok2 = false;
            const quintptr from = line.left(dash).toULongLong(&ok1, 16);
            const quintptr to = line.mid(dash + 1, space - dash - 1).toULongLong(&ok2, 16);
            if (ok1 && ok2) {
                inside = from <= at && at < to;
                continue;
            }
        }
        if (inside && line.startsWith("VmFlags:"))
            return line.mid(8).simplified();
    }
    return {};
}
} // namespace

class tst_Pool : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void chunksGoBackOnceAllTheirBlocksDo();
    void laterChunksAreOnHugePages();
    void aChunkPinnedByOneBlockLendsTheOthers();
};

void tst_Pool::chunksGoBackOnceAllTheirBlocksDo()
{
    if (!detail::poolMemory().chunked)
        QSKIP("under AddressSanitizer the pool mallocs each block");
    // A thread of its own, so that no cache of this one holds any of the blocks. It makes
    // 100,000 handles (three chunks and more), hands half of them to this thread and ends:
    // its cached blocks and its carving references go back, but the chunks holding this
    // thread's handles stay mapped until those are given back too.
    releaseThreadCache();
    const detail::PoolMemory before = detail::poolMemory();
    std::vector<detail::Ref<detail::HandleBase>> kept;
    detail::PoolMemory full;
    bool aligned = true; // as operator new's blocks are
    std::thread([&] {
        std::vector<detail::Ref<detail::HandleBase>> made;
        for (int i = 0; i < 100'000; ++i)
            made.push_back(makeHandle(i));
        full = detail::poolMemory();
        for (const auto &h : made)
            aligned = aligned && reinterpret_cast<quintptr>(h.get()) % 16 == 0;
        for (std::size_t i = 0; i < made.size(); i += 2)
            kept.push_back(std::move(made[i]));
    }).join();
    QVERIFY(aligned);
    QVERIFY(full.chunks >= before.chunks + 3);
    // 72-byte blocks, each taking 80 bytes of a chunk (16-byte aligned).
    QCOMPARE(full.blockBytes, before.blockBytes + 100'000 * 80);
    const detail::PoolMemory during = detail::poolMemory();
    QVERIFY(during.chunks >= before.chunks + 3); // every chunk holds a kept handle
    QCOMPARE(during.blockBytes, before.blockBytes + 50'000 * 80);
    // This thread's free lists keep 16,384 of them; the rest go back to their chunks.
    kept.clear();
    releaseThreadCache();
    QVERIFY(detail::poolMemory().chunks < during.chunks);
    // And the ones the free lists keep go back when this thread's caches do (a thread of
    // its own again, since the main thread ends with the process).
    std::vector<detail::Ref<detail::HandleBase>> more;
    std::thread([&] {
        for (int i = 0; i < 50'000; ++i)
            more.push_back(makeHandle(i));
    }).join();
    std::thread([&] { more.clear(); }).join();
    QVERIFY(detail::poolMemory().chunks < during.chunks);
}

void tst_Pool::laterChunksAreOnHugePages()
{
    if (!detail::poolMemory().chunked)
        QSKIP("under AddressSanitizer the pool mallocs each block");
    QFile thp(QStringLiteral("/sys/kernel/mm/transparent_hugepage/enabled"));
    if (!thp.open(QIODevice::ReadOnly) || thp.readAll().contains("[never]"))
        QSKIP("this kernel has no transparent huge pages, or has them off");
    // A thread's first chunk of a size class gets no advice (a small program stays small);
    // its next ones are advised onto transparent huge pages ("hg" in smaps' VmFlags).
    std::vector<detail::Ref<detail::HandleBase>> made;
    std::thread([&] {
        for (int i = 0; i < 100'000; ++i)
            made.push_back(makeHandle(i));
    }).join();
    const QByteArray first = vmFlagsAt(made.front().get());
    const QByteArray last = vmFlagsAt(made.back().get());
    QVERIFY2(!first.isEmpty() && !last.isEmpty(), "the chunks are not in /proc/self/smaps");
    QVERIFY2(!first.split(' ').contains("hg"), first.constData());
    QVERIFY2(last.split(' ').contains("hg"), last.constData());
}

void tst_Pool::aChunkPinnedByOneBlockLendsTheOthers()
{
    if (!detail::poolMemory().chunked)
        QSKIP("under AddressSanitizer the pool mallocs each block");
    // One long-lived handle keeps its chunk mapped after the other 25,999 blocks carved from
    // it came back; those must not be lost until it dies (a program that keeps one object of
    // each burst would otherwise map a new chunk per burst): the next thread that runs out of
    // carving takes them.
    constexpr int kPerChunk = 26'000; // 80-byte blocks in 2 MiB, less the header
    detail::Ref<detail::HandleBase> pinned;
    std::thread([&] {
        std::vector<detail::Ref<detail::HandleBase>> made;
        for (int i = 0; i < kPerChunk; ++i)
            made.push_back(makeHandle(i));
        pinned = made[kPerChunk / 2];
        made.clear();
    }).join(); // its caches go back as it ends: every block but the pinned one
    const auto region = [](const void *p) { return reinterpret_cast<quintptr>(p) >> 21; };
    int reused = 0;
    int made = 0;
    std::thread([&] {
        // Chunks given blocks back by the tests before are taken first, newest first: the
        // pinned one is the newest, and the loop stops once it has all of its blocks.
        std::vector<detail::Ref<detail::HandleBase>> kept;
        while (reused < kPerChunk - 1 && made < 10 * kPerChunk) {
            kept.push_back(makeHandle(made++));
            reused += region(kept.back().get()) == region(pinned.get()) ? 1 : 0;
        }
    }).join();
    QCOMPARE(reused, kPerChunk - 1); // every block but the pinned one
    QVERIFY2(made < 2 * kPerChunk, qPrintable(QString::number(made)));
    pinned.reset();
}

QTEST_GUILESS_MAIN(tst_Pool)
#include "tst_pool.moc"
