// libFuzzer target for the scenario-file parser (issue 7): any byte string must give either a
// scenario that survives a round trip through scenarioToJson(), or errors that each name the
// file — never a crash, a hang or an empty error list.

#include <loopscope/scenario.h>

#include <QByteArray>
#include <QString>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const QByteArray json(reinterpret_cast<const char *>(data), qsizetype(size));
    const QString file = QStringLiteral("fuzz.json");
    const loopscope::ScenarioParseResult result = loopscope::parseScenario(json, file);
    if (!result) {
        if (result.errors().empty())
            std::abort(); // rejected without saying why
        for (const auto &error : result.errors())
            if (error.file != file)
                std::abort(); // an error that does not name the file
        return 0;
    }
    // Accepted: what we write back must read back the same.
    const QByteArray again = loopscope::scenarioToJson(result.scenario());
    const loopscope::ScenarioParseResult reread = loopscope::parseScenario(again, file);
    if (!reread || loopscope::scenarioToJson(reread.scenario()) != again)
        std::abort();
    if (!loopscope::validateScenario(result.scenario()).empty())
        std::abort();
    return 0;
}
