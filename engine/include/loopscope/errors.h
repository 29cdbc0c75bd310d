#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace loopscope {

//! Base class of the errors Loopscope raises (Python: Exception subclasses of asyncio).
class Error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

//! Misuse of the loop: closed loop, loop already running, awaiting a task from itself,
//! a future of another loop... (Python: RuntimeError).
class RuntimeError : public Error
{
public:
    using Error::Error;
};

//! An operation not allowed in the future's current state, e.g. setResult() twice or
//! result() while pending (Python: asyncio.InvalidStateError).
class InvalidStateError : public Error
{
public:
    using Error::Error;
};

//! A deadline passed: waitFor(), timeout() scopes, asCompleted(), signal waits (Python:
//! TimeoutError, which asyncio.TimeoutError aliases since 3.11).
class TimeoutError : public Error
{
public:
    TimeoutError() : Error("TimeoutError") { }
    using Error::Error;
};

//! An argument with the right type but a wrong value, e.g. wait() on an empty set (Python:
//! ValueError).
class ValueError : public Error
{
public:
    using Error::Error;
};

/*!
 * Several errors at once: what a TaskGroup raises when children failed (Python:
 * ExceptionGroup / BaseExceptionGroup). exceptions() holds every child error, in the order
 * they happened, each with its original type.
 */
class ExceptionGroup : public Error
{
public:
    ExceptionGroup(const std::string &message, std::vector<std::exception_ptr> exceptions);

    const std::vector<std::exception_ptr> &exceptions() const noexcept { return m_exceptions; }
    //! The message without the "(N sub-exceptions)" suffix what() carries.
    const std::string &message() const noexcept { return m_message; }

private:
    std::string m_message;
    std::vector<std::exception_ptr> m_exceptions;
};

/*!
 * Thrown into a coroutine at its suspension point when its task is cancelled, and by
 * result() of a cancelled future (Python: asyncio.CancelledError).
 *
 * Like Python's CancelledError, which derives from BaseException and not Exception, this
 * deliberately does \e not derive from std::exception: a generic
 * `catch (const std::exception &)` must not swallow a cancellation by accident. Catch it by
 * name (or with `catch (...)` and rethrow) when a coroutine needs to clean up.
 */
class CancelledError
{
public:
    CancelledError() = default;
    explicit CancelledError(std::string message) : m_message(std::move(message)) { }

    //! The message given to cancel(msg); empty when none was given.
    const std::string &message() const noexcept { return m_message; }
    const char *what() const noexcept
    {
        return m_message.empty() ? "CancelledError" : m_message.c_str();
    }

private:
    std::string m_message;
};

namespace detail {
//! A printable description of any exception_ptr (type and message), for reports.
std::string describeException(const std::exception_ptr &exception);
//! True when \a exception holds a CancelledError.
bool isCancelledError(const std::exception_ptr &exception);
//! The message of the CancelledError in \a exception (empty if none or not a CancelledError).
std::string cancelMessageOf(const std::exception_ptr &exception);
} // namespace detail

} // namespace loopscope
