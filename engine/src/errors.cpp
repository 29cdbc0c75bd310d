#include "loopscope/errors.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace loopscope {

namespace {
std::string groupWhat(const std::string &message, std::size_t count)
{
    return message + " (" + std::to_string(count)
            + (count == 1 ? " sub-exception)" : " sub-exceptions)");
}
} // namespace

ExceptionGroup::ExceptionGroup(const std::string &message,
                               std::vector<std::exception_ptr> exceptions)
    : Error(groupWhat(message, exceptions.size())),
      m_message(message),
      m_exceptions(std::move(exceptions))
{
}

} // namespace loopscope

namespace loopscope::detail {

namespace {
std::string demangle(const char *name)
{
    int status = 0;
    std::unique_ptr<char, void (*)(void *)> out(
            abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(name);
}
} // namespace

std::string describeException(const std::exception_ptr &exception)
{
    if (!exception)
        return "no exception";
    try {
        std::rethrow_exception(exception);
    } catch (const CancelledError &e) {
        return std::string("CancelledError: ") + e.what();
    } catch (const ExceptionGroup &e) {
        std::string s = std::string("ExceptionGroup: ") + e.what();
        for (const auto &inner : e.exceptions())
            s += "\n  - " + describeException(inner);
        return s;
    } catch (const TimeoutError &e) {
        return std::string("TimeoutError: ") + e.what();
    } catch (const ValueError &e) {
        return std::string("ValueError: ") + e.what();
    } catch (const InvalidStateError &e) {
        return std::string("InvalidStateError: ") + e.what();
    } catch (const RuntimeError &e) {
        return std::string("RuntimeError: ") + e.what();
    } catch (const std::exception &e) {
        return demangle(typeid(e).name()) + ": " + e.what();
    } catch (...) {
        return "unknown exception (not derived from std::exception)";
    }
}

bool isCancelledError(const std::exception_ptr &exception)
{
    if (!exception)
        return false;
    try {
        std::rethrow_exception(exception);
    } catch (const CancelledError &) {
        return true;
    } catch (...) {
        return false;
    }
}

std::string cancelMessageOf(const std::exception_ptr &exception)
{
    if (!exception)
        return {};
    try {
        std::rethrow_exception(exception);
    } catch (const CancelledError &e) {
        return e.message();
    } catch (...) {
        return {};
    }
}

} // namespace loopscope::detail
