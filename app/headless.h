#pragma once

#include <loopscope/scenario.h>

#include <QString>

/*!
 * `loopscope --headless`: runs one scenario on a loop of its own, without a window (a
 * QCoreApplication is enough, no display needed), and reports how it went.
 */
struct HeadlessOptions
{
    loopscope::Scenario scenario;
    loopscope::ClockSpec clock;
    bool summary = false; //!< print the per-task table and a status line
    QString tracePath; //!< write a Chrome trace there; empty: no trace
    int timeoutMs = 60000; //!< the watchdog: give up (exit code 3) after this much real time
};

//! The exit codes of the loopscope program.
enum ExitCode : int {
    ExitOk = 0, //!< the scenario completed (its tasks may have failed: that is its outcome)
    ExitFailure = 1, //!< the run itself failed, or the trace could not be written
    ExitUsage = 2, //!< bad command line, unknown scenario, unreadable or malformed file
    ExitTimeout = 3, //!< the watchdog (--timeout-ms) fired before the scenario completed
};

/*!
 * Runs \a options.scenario until its end condition (every task done, or stop() from a
 * done-callback) and returns an ExitCode. Lines the scenario prints go to stdout, warnings
 * (the loop's exception handler) and errors to stderr. Needs a QCoreApplication.
 */
int runHeadless(const HeadlessOptions &options);
