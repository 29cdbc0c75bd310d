#include "headless.h"
#include "mainwindow.h"

#include <loopscope/loopscope.h>
#include <loopscope/scenario.h>
#include <loopscope/tracefile.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>

using loopscope::Scenario;

namespace {

//! The seed scenarios and the names the first versions of the app called them.
const QString SeedRunUntilComplete = QStringLiteral("seed_run_until_complete");
const QString SeedRunForever = QStringLiteral("seed_run_forever");

QString canonicalScenarioName(const QString &name)
{
    if (name == QLatin1String("example1"))
        return SeedRunUntilComplete;
    if (name == QLatin1String("example2"))
        return SeedRunForever;
    return name;
}

void printError(const QString &message)
{
    std::fprintf(stderr, "loopscope: %s\n", message.toLocal8Bit().constData());
    std::fflush(stderr);
}

int usageError(const QString &message)
{
    printError(message);
    std::fprintf(stderr, "Try 'loopscope --help' for the options.\n");
    return ExitUsage;
}

struct CommandLine
{
    QCommandLineOption listScenarios{
        QStringLiteral("list-scenarios"),
        QStringLiteral("List the built-in scenarios (name and title) and exit.")
    };
    QCommandLineOption headless{ QStringLiteral("headless"),
                                 QStringLiteral("Run the scenario given with --scenario or "
                                                "--scenario-file without a window (no display "
                                                "needed) and exit when it completes.") };
    QCommandLineOption scenario{
        QStringLiteral("scenario"),
        QStringLiteral("The built-in scenario <name> to run (see --list-scenarios); example1 "
                       "and example2 are the two asyncio seed examples. Without --headless the "
                       "window runs it at start-up."),
        QStringLiteral("name")
    };
    QCommandLineOption scenarioFile{
        QStringLiteral("scenario-file"),
        QStringLiteral("Run the scenario in the JSON file <path> instead (format: "
                       "docs/scenarios.md)."),
        QStringLiteral("path")
    };
    QCommandLineOption clock{
        QStringLiteral("clock"),
        QStringLiteral("Headless: the loop's clock: virtual (time jumps to the next timer, "
                       "instant and deterministic), real, or scaled:F (loop time runs F times "
                       "as fast as real time, F from 0.1 to 10). Default: the scenario's own "
                       "clock, else virtual."),
        QStringLiteral("mode")
    };
    QCommandLineOption trace{ QStringLiteral("trace"),
                              QStringLiteral("Headless: write a Chrome trace (open it in "
                                             "ui.perfetto.dev) of the run to <file>."),
                              QStringLiteral("file") };
    QCommandLineOption summary{ QStringLiteral("summary"),
                                QStringLiteral("Headless: print a table of every task (id, "
                                               "parent, name, state, steps, result or error) "
                                               "and a status line at the end.") };
    QCommandLineOption timeoutMs{
        QStringLiteral("timeout-ms"),
        QStringLiteral("Headless: give up (exit code 3) when the scenario has not completed "
                       "after <ms> milliseconds of real time. Default: 60000."),
        QStringLiteral("ms"), QStringLiteral("60000")
    };
    QCommandLineOption replay{
        QStringLiteral("replay"),
        QStringLiteral("Window: open the trace <file> exported by Loopscope (--trace, Export "
                       "trace) and replay it: step through it forwards and backwards. A file "
                       "that does not load exits with code 2."),
        QStringLiteral("file")
    };
    QCommandLineOption quitAfter{
        QStringLiteral("quit-after"),
        QStringLiteral("Window: quit after <ms> milliseconds (smoke tests, screenshots)."),
        QStringLiteral("ms")
    };

    void addTo(QCommandLineParser &parser) const
    {
        parser.setApplicationDescription(QStringLiteral(
                "Loopscope: Python asyncio's event loop in C++20 on Qt, visualized.\n"
                "\n"
                "Without --headless or --list-scenarios it opens the window.\n"
                "\n"
                "Examples:\n"
                "  loopscope --list-scenarios\n"
                "  loopscope --headless --scenario seed_run_until_complete --summary\n"
                "  loopscope --headless --scenario lock_contention --clock real "
                "--trace run.json\n"
                "\n"
                "Exit codes: 0 the scenario completed (its tasks may have failed: that is "
                "its outcome), 1 the run failed or the trace could not be written, 2 bad "
                "command line, unknown scenario or unreadable/malformed file, 3 --timeout-ms "
                "expired."));
        parser.addHelpOption();
        parser.addVersionOption();
        parser.addOption(listScenarios);
        parser.addOption(headless);
        parser.addOption(scenario);
        parser.addOption(scenarioFile);
        parser.addOption(clock);
        parser.addOption(trace);
        parser.addOption(summary);
        parser.addOption(timeoutMs);
        parser.addOption(replay);
        parser.addOption(quitAfter);
    }
};

QStringList argumentsOf(int argc, char **argv)
{
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    return arguments;
}

//! Everything that needs no window also needs no display: a QCoreApplication does.
bool needsOnlyCoreApplication(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        for (const char *option : { "-h", "--help", "--help-all", "-?", "-v", "--version",
                                    "--headless", "--list-scenarios" }) {
            if (std::strcmp(argv[i], option) == 0)
                return true;
        }
    }
    return false;
}

//! QApplication aborts without a display; say what to do instead.
bool hasDisplay(int argc, char **argv)
{
#if defined(Q_OS_UNIX) && !defined(Q_OS_DARWIN)
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "-platform") == 0 || std::strcmp(argv[i], "--platform") == 0)
            return true; // Qt's own option, e.g. -platform offscreen
    }
    return !qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")
            || !qEnvironmentVariableIsEmpty("DISPLAY")
            || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
#else
    Q_UNUSED(argc);
    Q_UNUSED(argv);
    return true;
#endif
}

int listScenarios()
{
    const loopscope::ScenarioCatalog catalog =
            loopscope::scenarioCatalog(loopscope::builtInScenarioDirectory());
    qsizetype width = 0;
    for (const Scenario &s : catalog.scenarios)
        width = std::max(width, s.name.size());
    for (const Scenario &s : catalog.scenarios) {
        std::printf("%s  %s\n", s.name.leftJustified(width).toLocal8Bit().constData(),
                    s.title.toLocal8Bit().constData());
    }
    std::fflush(stdout);
    for (const loopscope::ScenarioError &e : catalog.errors)
        printError(QStringLiteral("warning: a built-in scenario did not load: ") + e.toString());
    return catalog.errors.empty() ? ExitOk : ExitFailure;
}

//! The scenario --scenario or --scenario-file names, or nullopt after printing why not.
std::optional<Scenario> resolveScenario(const QCommandLineParser &parser, const CommandLine &cl)
{
    if (parser.isSet(cl.scenarioFile)) {
        loopscope::ScenarioParseResult result =
                loopscope::loadScenario(parser.value(cl.scenarioFile));
        if (!result) {
            for (const loopscope::ScenarioError &e : result.errors())
                printError(e.toString());
            return std::nullopt;
        }
        return result.takeScenario();
    }
    const QString name = canonicalScenarioName(parser.value(cl.scenario));
    const loopscope::ScenarioCatalog catalog =
            loopscope::scenarioCatalog(loopscope::builtInScenarioDirectory());
    if (const Scenario *s = catalog.find(name))
        return *s;
    QStringList names;
    for (const Scenario &s : catalog.scenarios)
        names.append(s.name);
    usageError(QStringLiteral("unknown scenario '%1'; the built-in ones are: %2")
                       .arg(parser.value(cl.scenario), names.join(QStringLiteral(", "))));
    return std::nullopt;
}

std::optional<int> parseMilliseconds(const QString &text, int minimum, int maximum)
{
    bool ok = false;
    const qlonglong value = text.toLongLong(&ok);
    if (!ok || value < minimum || value > maximum)
        return std::nullopt;
    return int(value);
}

//! The checks of a command line that opens the window; an error message or an empty string.
QString checkWindowOptions(const QCommandLineParser &parser, const CommandLine &cl)
{
    if (!parser.positionalArguments().isEmpty())
        return QStringLiteral("unexpected argument '%1'")
                .arg(parser.positionalArguments().constFirst());
    if (parser.isSet(cl.scenario) && parser.isSet(cl.scenarioFile))
        return QStringLiteral("give either --scenario or --scenario-file, not both");
    if (parser.isSet(cl.replay) && (parser.isSet(cl.scenario) || parser.isSet(cl.scenarioFile)))
        return QStringLiteral("--replay shows a saved trace; it does not run --scenario or "
                              "--scenario-file");
    for (const QCommandLineOption *option : { &cl.clock, &cl.trace, &cl.summary, &cl.timeoutMs }) {
        if (parser.isSet(*option))
            return QStringLiteral("--%1 only works with --headless")
                    .arg(option->names().constFirst());
    }
    if (parser.isSet(cl.quitAfter)
        && !parseMilliseconds(parser.value(cl.quitAfter), 0, std::numeric_limits<int>::max()))
        return QStringLiteral("--quit-after expects milliseconds >= 0, got '%1'")
                .arg(parser.value(cl.quitAfter));
    return QString();
}

//! The trace --replay names, or nullopt after printing why it does not load.
std::optional<loopscope::TraceFile> loadReplay(const QCommandLineParser &parser,
                                               const CommandLine &cl)
{
    loopscope::TraceFileResult result = loopscope::loadTraceFile(parser.value(cl.replay));
    if (!result) {
        printError(QStringLiteral("--replay: ") + result.errorString());
        return std::nullopt;
    }
    return result.takeTrace();
}

int runHeadlessFromCommandLine(const QCommandLineParser &parser, const CommandLine &cl)
{
    if (parser.isSet(cl.replay))
        return usageError(QStringLiteral("--replay opens the window; it does not work with "
                                         "--headless"));
    if (parser.isSet(cl.quitAfter))
        return usageError(QStringLiteral("--quit-after is for the window; with --headless use "
                                         "--timeout-ms"));
    if (!parser.isSet(cl.scenario) && !parser.isSet(cl.scenarioFile))
        return usageError(QStringLiteral("--headless needs --scenario <name> or --scenario-file "
                                         "<path>"));
    HeadlessOptions options;
    const std::optional<int> timeout =
            parseMilliseconds(parser.value(cl.timeoutMs), 1, 24 * 60 * 60 * 1000);
    if (!timeout)
        return usageError(QStringLiteral("--timeout-ms expects milliseconds from 1 to 86400000, "
                                         "got '%1'")
                                  .arg(parser.value(cl.timeoutMs)));
    options.timeoutMs = *timeout;
    std::optional<loopscope::ClockSpec> clock;
    if (parser.isSet(cl.clock)) {
        QString error;
        clock = loopscope::parseClockSpec(parser.value(cl.clock), &error);
        if (!clock)
            return usageError(QStringLiteral("--clock: ") + error);
    }
    if (parser.isSet(cl.trace)) {
        options.tracePath = parser.value(cl.trace);
        const QFileInfo info(options.tracePath);
        if (options.tracePath.isEmpty() || info.isDir() || !info.absoluteDir().exists())
            return usageError(QStringLiteral("--trace: cannot write '%1': the folder does not "
                                             "exist or it is a folder")
                                      .arg(options.tracePath));
    }
    options.summary = parser.isSet(cl.summary);

    // Everything is checked before anything runs: a typo never costs a half-run.
    std::optional<Scenario> scenario = resolveScenario(parser, cl);
    if (!scenario)
        return ExitUsage;
    options.clock = clock.value_or(scenario->clock.value_or(loopscope::ClockSpec{}));
    options.scenario = std::move(*scenario);
    return runHeadless(options);
}

} // namespace

int main(int argc, char **argv)
{
    CommandLine cl;
    const bool coreOnly = needsOnlyCoreApplication(argc, argv);
    if (!coreOnly && !hasDisplay(argc, argv)) {
        // A typo deserves its own message rather than "no display".
        QCommandLineParser parser;
        cl.addTo(parser);
        if (!parser.parse(argumentsOf(argc, argv)))
            return usageError(parser.errorText());
        if (const QString error = checkWindowOptions(parser, cl); !error.isEmpty())
            return usageError(error);
        // A trace that cannot load says so first: that answer needs no display.
        if (parser.isSet(cl.replay) && !loadReplay(parser, cl))
            return ExitUsage;
        return usageError(QStringLiteral("no display to open the window on (DISPLAY and "
                                         "WAYLAND_DISPLAY are unset); use --headless, "
                                         "--list-scenarios, or QT_QPA_PLATFORM=offscreen"));
    }

    std::unique_ptr<QCoreApplication> app = coreOnly
            ? std::make_unique<QCoreApplication>(argc, argv)
            : std::make_unique<QApplication>(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("loopscope"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LOOPSCOPE_VERSION));
    QCoreApplication::setOrganizationName(QStringLiteral("Loopscope"));

    QCommandLineParser parser;
    cl.addTo(parser);
    // parse(), not process(): errors get our exit code and message, and Qt's own options
    // (-platform, -style …) were already taken out of arguments() by QApplication.
    if (!parser.parse(QCoreApplication::arguments()))
        return usageError(parser.errorText());
    if (parser.isSet(QStringLiteral("help")) || parser.isSet(QStringLiteral("help-all")))
        parser.showHelp(ExitOk); // exits
    if (parser.isSet(QStringLiteral("version")))
        parser.showVersion(); // exits
    if (!parser.positionalArguments().isEmpty())
        return usageError(QStringLiteral("unexpected argument '%1'")
                                  .arg(parser.positionalArguments().constFirst()));
    if (parser.isSet(cl.scenario) && parser.isSet(cl.scenarioFile))
        return usageError(QStringLiteral("give either --scenario or --scenario-file, not both"));

    if (parser.isSet(cl.listScenarios))
        return listScenarios();
    if (parser.isSet(cl.headless))
        return runHeadlessFromCommandLine(parser, cl);

    // --- the window ----------------------------------------------------------------------
    if (const QString error = checkWindowOptions(parser, cl); !error.isEmpty())
        return usageError(error);
    const int quitAfterMs = parser.isSet(cl.quitAfter)
            ? *parseMilliseconds(parser.value(cl.quitAfter), 0, std::numeric_limits<int>::max())
            : -1;
    std::optional<Scenario> scenario;
    if (parser.isSet(cl.scenario) || parser.isSet(cl.scenarioFile)) {
        scenario = resolveScenario(parser, cl);
        if (!scenario)
            return ExitUsage;
    }
    std::optional<loopscope::TraceFile> trace;
    if (parser.isSet(cl.replay)) {
        trace = loadReplay(parser, cl);
        if (!trace)
            return ExitUsage;
    }

    QApplication::setApplicationDisplayName(QStringLiteral("Loopscope"));
    QApplication::setDesktopFileName(QStringLiteral("loopscope"));

    // The visualized loop runs on a thread of its own (LoopHost), so a scenario that blocks
    // it leaves the window responsive. A scenario given on the command line runs on the clock
    // it names, else on the window's (scaled, 1x: real time that can be slowed down).
    MainWindow window;
    window.show();
    if (scenario) {
        QTimer::singleShot(0, &window, [&window, s = *scenario] { window.startScenario(s); });
    }
    if (trace)
        window.replayTrace(std::move(*trace), parser.value(cl.replay));
    if (!scenario && !trace) {
        // Where the previous session left off.
        QTimer::singleShot(0, &window, [&window] { window.restoreLastScenario(); });
    }
    if (quitAfterMs >= 0)
        QTimer::singleShot(quitAfterMs, app.get(), &QCoreApplication::quit);

    return app->exec();
}
