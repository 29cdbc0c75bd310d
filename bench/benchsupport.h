#pragma once

// What every workload program of bench/ shares: repetitions and medians, the JSON line per
// implementation, the closing table of ratios, RSS readings and the --quick switch.
//
// Each program runs the Loopscope version of its workload and the closest Qt-native
// versions (raw Qt queued calls / QTimer / QtConcurrent, QCoro coroutines) in the same
// process, alternating them repetition by repetition so that a busy machine hurts both alike.

#include <QByteArray>
#include <QFile>
#include <QString>

#include <algorithm>
#include <malloc.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

inline double median(std::vector<double> values)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

//! The value below which \a q of \a values lie (nearest rank), 0 when empty.
inline double quantile(std::vector<double> values, double q)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const auto rank = std::size_t(std::max(0.0, q * double(values.size()) - 1e-9));
    return values[std::min(rank, values.size() - 1)];
}

//! Resident set size of this process in bytes (VmRSS), 0 when unknown.
/*!
 * Consolidates glibc's heap (malloc_trim) before a timed repetition. The implementations
 * run alternately in one process, and glibc consolidates the chunks one of them freed
 * (a million queued Qt events, say) lazily, at the next allocation: without this, each
 * repetition would pay for the garbage the other implementation left behind.
 */
inline void settleHeap()
{
    malloc_trim(0);
}

inline std::int64_t residentBytes()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return 0;
    const QByteArrayList lines = status.readAll().split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith("VmRSS:")) {
            const QByteArrayList parts = line.simplified().split(' ');
            return parts.size() >= 2 ? parts[1].toLongLong() * 1024 : 0;
        }
    }
    return 0;
}

//! Command-line switches every program understands.
struct Options
{
    bool quick = false; //!< a small fraction of the work, one repetition: a smoke test
    int repetitions = 5;

    Options(int argc, char **argv)
    {
        for (int i = 1; i < argc; ++i) {
            if (std::strcmp(argv[i], "--quick") == 0) {
                quick = true;
                repetitions = 1;
            } else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
                repetitions = std::max(1, std::atoi(argv[++i]));
            } else {
                std::fprintf(stderr, "usage: %s [--quick] [--reps N]\n", argv[0]);
                std::exit(2);
            }
        }
    }
    //! \a full, or a hundredth of it (at least 10) with --quick.
    std::int64_t size(std::int64_t full) const
    {
        return quick ? std::max<std::int64_t>(10, full / 100) : full;
    }
};

/*!
 * The figures of one implementation over the repetitions. `per_op_ns` is the median run
 * time divided by n; extra figures are medians too.
 */
class Result
{
public:
    Result(std::string workload, std::string impl, std::int64_t n)
        : m_workload(std::move(workload)), m_impl(std::move(impl)), m_n(n)
    {
    }

    void addRun(double seconds) { m_runs.push_back(seconds); }
    void addFigure(const std::string &name, double value) { m_figures[name].push_back(value); }
    //! A remark printed in the JSON (e.g. why n is smaller than the workload's size).
    void setNote(std::string note) { m_note = std::move(note); }

    const std::string &impl() const { return m_impl; }
    std::int64_t n() const { return m_n; }
    double medianSeconds() const { return median(m_runs); }
    double perOpNs() const { return m_n > 0 ? medianSeconds() * 1e9 / double(m_n) : 0; }
    double figure(const std::string &name) const
    {
        const auto it = m_figures.find(name);
        return it == m_figures.end() ? 0 : median(it->second);
    }
    //! The largest value of a figure over the repetitions (a worst case, e.g. lateness).
    double figureMax(const std::string &name) const
    {
        const auto it = m_figures.find(name);
        return it == m_figures.end() || it->second.empty()
                ? 0
                : *std::max_element(it->second.begin(), it->second.end());
    }
    bool hasFigure(const std::string &name) const { return m_figures.count(name) != 0; }

    //! One JSON line on stdout.
    void print() const
    {
        std::printf("{\"workload\":\"%s\",\"impl\":\"%s\",\"n\":%lld,\"reps\":%zu,"
                    "\"median_s\":%.6f,\"per_op_ns\":%.1f",
                    m_workload.c_str(), m_impl.c_str(), static_cast<long long>(m_n), m_runs.size(),
                    medianSeconds(), perOpNs());
        for (const auto &[name, values] : m_figures)
            std::printf(",\"%s\":%.4f", name.c_str(), median(values));
        if (!m_note.empty())
            std::printf(",\"note\":\"%s\"", m_note.c_str());
        std::printf("}\n");
        std::fflush(stdout);
    }

private:
    std::string m_workload;
    std::string m_impl;
    std::int64_t m_n;
    std::vector<double> m_runs;
    std::map<std::string, std::vector<double>> m_figures;
    std::string m_note;
};

/*!
 * The closing human-readable table: per implementation its per-op figure and, for each
 * baseline, how many times faster (or smaller, for \a lowerIsBetter figures) Loopscope is.
 * \a figure names the compared figure ("per_op_ns" or an extra figure); \a target is the
 * issue's goal for the ratio (0: none).
 */
inline void printRatio(const char *workload, const Result &loopscope, const Result &baseline,
                       const std::string &figure, double target, const char *unit)
{
    const auto value = [&](const Result &r) {
        return figure == "per_op_ns" ? r.perOpNs() : r.figure(figure);
    };
    const double ours = value(loopscope);
    const double theirs = value(baseline);
    const double ratio = ours > 0 ? theirs / ours : 0;
    std::printf("%-13s %-22s %12.1f %-6s vs %-8s %12.1f %-6s  %7.1fx", workload, figure.c_str(),
                ours, unit, baseline.impl().c_str(), theirs, unit, ratio);
    if (target > 0)
        std::printf("  (target >= %gx: %s)", target, ratio >= target ? "met" : "NOT met");
    std::printf("\n");
    std::fflush(stdout);
}

} // namespace bench
