#include "mainwindow.h"

#include <loopscope/loopscope.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <cstdio>
#include <cstring>
#include <memory>

namespace {

// --help and --version must work without a display, where QApplication cannot start; the
// QApplication documentation recommends exactly this split.
std::unique_ptr<QCoreApplication> createApplication(int &argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        for (const char *option : { "-h", "--help", "--help-all", "-?", "-v", "--version" }) {
            if (std::strcmp(argv[i], option) == 0)
                return std::make_unique<QCoreApplication>(argc, argv);
        }
    }
    return std::make_unique<QApplication>(argc, argv);
}

} // namespace

int main(int argc, char **argv)
{
    std::unique_ptr<QCoreApplication> app = createApplication(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("loopscope"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LOOPSCOPE_VERSION));
    QCoreApplication::setOrganizationName(QStringLiteral("Loopscope"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
            QStringLiteral("Loopscope: Python asyncio's event loop in C++20 on Qt, visualized."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption scenarioOption(
            QStringLiteral("scenario"),
            QStringLiteral("Run an example at start-up: example1 (run_until_complete) or "
                           "example2 (run_forever + stop)."),
            QStringLiteral("name"));
    const QCommandLineOption quitAfterOption(
            QStringLiteral("quit-after"),
            QStringLiteral("Quit after <ms> milliseconds (smoke tests, screenshots)."),
            QStringLiteral("ms"));
    parser.addOption(scenarioOption);
    parser.addOption(quitAfterOption);
    parser.process(*app); // handles --help and --version, and exits on unknown options

    int quitAfterMs = -1;
    if (parser.isSet(quitAfterOption)) {
        bool ok = false;
        quitAfterMs = parser.value(quitAfterOption).toInt(&ok);
        if (!ok || quitAfterMs < 0) {
            std::fprintf(stderr, "loopscope: --quit-after expects milliseconds >= 0, got '%s'\n",
                         qPrintable(parser.value(quitAfterOption)));
            return 2;
        }
    }
    const QString scenario = parser.value(scenarioOption);
    if (!scenario.isEmpty() && scenario != QLatin1String("example1")
        && scenario != QLatin1String("example2")) {
        std::fprintf(stderr, "loopscope: unknown --scenario '%s' (example1 or example2)\n",
                     qPrintable(scenario));
        return 2;
    }

    QApplication::setApplicationDisplayName(QStringLiteral("Loopscope"));
    QApplication::setDesktopFileName(QStringLiteral("loopscope"));

    // Attached to the GUI thread: it runs whenever app.exec() runs.
    loopscope::EventLoop loop;
    MainWindow window(&loop);
    window.show();

    if (scenario == QLatin1String("example1"))
        QTimer::singleShot(0, &window, &MainWindow::runExample1);
    else if (scenario == QLatin1String("example2"))
        QTimer::singleShot(0, &window, &MainWindow::runExample2);
    if (quitAfterMs >= 0)
        QTimer::singleShot(quitAfterMs, app.get(), &QCoreApplication::quit);

    return app->exec();
}
