#pragma once

//! \file warningspanel.h The warnings panel: the trace recorder's lints in a filterable table.

#include <QWidget>

#include <cstdint>
#include <optional>

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QModelIndex;
class QSortFilterProxyModel;
class QTreeView;
QT_END_NAMESPACE

namespace loopscope {
enum class LintKind : std::uint8_t;
}

namespace loopscope::ui {

class WarningsModel;
struct TraceBatch;

/*!
 * Shows a WarningsModel: a summary line with the count of each kind, a kind filter and the
 * table (sortable; kind with icon and colour, task, when, duration, message). Clicking or
 * activating a row emits lintActivated() so the window can select the task and move the
 * timeline to the moment it was found.
 *
 * Feed it LoopHost::batchReady() through ingest(); a batch of a new generation clears it.
 */
class WarningsPanel : public QWidget
{
    Q_OBJECT

public:
    explicit WarningsPanel(QWidget *parent = nullptr);
    ~WarningsPanel() override;

    WarningsModel *model() const { return m_model; }
    //! The filtered, sorted model the table shows.
    QSortFilterProxyModel *proxyModel() const { return m_proxy; }
    QTreeView *view() const { return m_view; }

    //! Adds the lints of \a batch (WarningsModel::applyBatch()) and updates the summary.
    void ingest(const TraceBatch &batch);
    //! Removes every warning.
    void clear();

    //! Shows only lints of \a kind; std::nullopt shows all (the kind combo box follows).
    void setKindFilter(std::optional<LintKind> kind);
    std::optional<LintKind> kindFilter() const;

    //! "3 warnings: 2 slow callback · 1 blocked loop", or "No warnings".
    QString summaryText() const;

Q_SIGNALS:
    //! A row was clicked or activated: the lint's task (0: none) and loop time (ns).
    void lintActivated(quint64 taskId, qint64 timeNs);

private:
    void emitActivated(const QModelIndex &proxyIndex);
    void updateSummary();

    WarningsModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTreeView *m_view;
    QComboBox *m_kindCombo;
    QLabel *m_summary;
};

} // namespace loopscope::ui
