#pragma once

//! \file taskfilterproxymodel.h Sorting and filtering of the task table.

#include <QSortFilterProxyModel>
#include <QString>

#include <cstdint>
#include <optional>
#include <unordered_set>

namespace loopscope::ui {

/*!
 * Sorts a TaskTableModel by its raw values (TaskTableModel::SortRole: ids and durations sort
 * as numbers) and keeps the rows that match a text filter and a state filter.
 */
class TaskFilterProxyModel : public QSortFilterProxyModel
{
    Q_OBJECT

public:
    //! Which tasks the state filter keeps.
    enum class StateFilter {
        All,
        Live, //!< not done yet
        Ready, //!< scheduled or running
        Waiting,
        Done, //!< finished, cancelled, failed or destroyed
        Finished,
        Cancelled,
        Failed, //!< failed or destroyed pending
    };
    Q_ENUM(StateFilter)

    explicit TaskFilterProxyModel(QObject *parent = nullptr);

    QString textFilter() const { return m_text; }
    /*!
     * Keeps the rows where the id, name, state, awaited thing, result or creation site
     * contains \a text (case-insensitive); empty keeps all.
     */
    void setTextFilter(const QString &text);

    StateFilter stateFilter() const { return m_state; }
    void setStateFilter(StateFilter filter);
    //! The filters' names in StateFilter order, for a combo box.
    static QStringList stateFilterNames();

    /*!
     * Keeps only the tasks in \a ids (the timeline's range selection: the tasks active in
     * it); std::nullopt keeps all again.
     */
    void setTaskIdFilter(std::optional<std::unordered_set<std::uint64_t>> ids);
    bool hasTaskIdFilter() const { return m_ids.has_value(); }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    QString m_text;
    StateFilter m_state = StateFilter::All;
    std::optional<std::unordered_set<std::uint64_t>> m_ids;
};

} // namespace loopscope::ui
