#pragma once

#include <cstdint>

namespace loopscope {

/*!
 * Where something was created: a callback scheduled, a task created. The engine's own
 * SourceLocation, because clang 14 with libstdc++ 12 (Debian 12) has no
 * SourceLocation; the compiler builtins used here work in g++ and clang alike.
 *
 * Used as a defaulted last parameter, `SourceLocation where = SourceLocation::current()`
 * records the caller's position.
 */
class SourceLocation
{
public:
    constexpr SourceLocation() noexcept = default;

    static constexpr SourceLocation current(const char *file = __builtin_FILE(),
                                            const char *function = __builtin_FUNCTION(),
                                            std::uint_least32_t line = __builtin_LINE()) noexcept
    {
        SourceLocation loc;
        loc.m_file = file;
        loc.m_function = function;
        loc.m_line = line;
        return loc;
    }

    constexpr const char *fileName() const noexcept { return m_file; }
    constexpr const char *functionName() const noexcept { return m_function; }
    constexpr std::uint_least32_t line() const noexcept { return m_line; }

private:
    const char *m_file = "";
    const char *m_function = "";
    std::uint_least32_t m_line = 0;
};

} // namespace loopscope
