#include <loopscope/ui/warningspanel.h>

#include <loopscope/recorder.h>
#include <loopscope/ui/tracebatch.h>
#include <loopscope/ui/warningsmodel.h>

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QRegularExpression>
#include <QSortFilterProxyModel>
#include <QStyle>
#include <QTreeView>
#include <QVBoxLayout>

namespace loopscope::ui {

WarningsPanel::WarningsPanel(QWidget *parent)
    : QWidget(parent),
      m_model(new WarningsModel(this)),
      m_proxy(new QSortFilterProxyModel(this)),
      m_view(new QTreeView),
      m_kindCombo(new QComboBox),
      m_summary(new QLabel)
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(WarningsModel::SortRole);
    m_proxy->setFilterRole(WarningsModel::KindRole);
    m_proxy->setFilterKeyColumn(WarningsModel::KindColumn);

    m_summary->setObjectName(QStringLiteral("warningsSummary"));
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_kindCombo->setObjectName(QStringLiteral("warningsKindFilter"));
    m_kindCombo->setToolTip(tr("Show only warnings of one kind"));
    m_kindCombo->addItem(tr("All kinds"), -1);
    for (int k = 0; k < kLintKindCount; ++k)
        m_kindCombo->addItem(WarningsModel::kindIcon(LintKind(k)),
                             WarningsModel::kindText(LintKind(k)), k);
    connect(m_kindCombo, &QComboBox::currentIndexChanged, this, [this](int index) {
        const int kind = m_kindCombo->itemData(index).toInt();
        m_proxy->setFilterRegularExpression(
                kind < 0 ? QRegularExpression()
                         : QRegularExpression(QStringLiteral("^%1$").arg(kind)));
    });

    m_view->setObjectName(QStringLiteral("warningsView"));
    m_view->setModel(m_proxy);
    m_view->setRootIsDecorated(false);
    m_view->setUniformRowHeights(true);
    m_view->setAlternatingRowColors(true);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(-1, Qt::AscendingOrder); // the order they were found in, until asked
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->header()->setStretchLastSection(true);
    m_view->setColumnWidth(WarningsModel::KindColumn, 190);
    m_view->setColumnWidth(WarningsModel::TaskColumn, 60);
    m_view->setColumnWidth(WarningsModel::TimeColumn, 90);
    m_view->setColumnWidth(WarningsModel::DurationColumn, 80);
    m_view->setToolTip(tr("Click a warning to select its task and show that moment on the "
                          "timeline"));
    connect(m_view, &QAbstractItemView::clicked, this, &WarningsPanel::emitActivated);
    connect(m_view, &QAbstractItemView::activated, this, [this](const QModelIndex &index) {
        // Styles that activate on a single click would report that click twice.
        if (!m_view->style()->styleHint(QStyle::SH_ItemView_ActivateItemOnSingleClick, nullptr,
                                        m_view))
            emitActivated(index);
    });

    auto *bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->addWidget(m_summary, 1);
    bar->addWidget(m_kindCombo);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(bar);
    layout->addWidget(m_view, 1);

    connect(m_model, &QAbstractItemModel::rowsInserted, this, &WarningsPanel::updateSummary);
    connect(m_model, &QAbstractItemModel::modelReset, this, &WarningsPanel::updateSummary);
    updateSummary();
}

WarningsPanel::~WarningsPanel() = default;

void WarningsPanel::ingest(const TraceBatch &batch)
{
    m_model->applyBatch(batch);
}

void WarningsPanel::clear()
{
    m_model->clear();
}

void WarningsPanel::setKindFilter(std::optional<LintKind> kind)
{
    m_kindCombo->setCurrentIndex(kind ? m_kindCombo->findData(int(*kind)) : 0);
}

std::optional<LintKind> WarningsPanel::kindFilter() const
{
    const int kind = m_kindCombo->currentData().toInt();
    return kind < 0 ? std::nullopt : std::optional<LintKind>(LintKind(kind));
}

QString WarningsPanel::summaryText() const
{
    const std::uint64_t total = m_model->totalCount();
    if (total == 0)
        return tr("No warnings");
    QStringList parts;
    for (int k = 0; k < kLintKindCount; ++k) {
        if (const std::uint64_t n = m_model->countOf(LintKind(k)))
            parts << QStringLiteral("%1 %2").arg(n).arg(WarningsModel::kindText(LintKind(k)));
    }
    const QString kinds = parts.join(QStringLiteral(" · "));
    return total == 1 ? tr("1 warning: %1").arg(kinds)
                      : tr("%1 warnings: %2").arg(total).arg(kinds);
}

void WarningsPanel::updateSummary()
{
    m_summary->setText(summaryText());
}

void WarningsPanel::emitActivated(const QModelIndex &proxyIndex)
{
    if (!proxyIndex.isValid())
        return;
    const QModelIndex index = m_proxy->mapToSource(proxyIndex);
    Q_EMIT lintActivated(index.data(WarningsModel::TaskIdRole).toULongLong(),
                         index.data(WarningsModel::TimeRole).toLongLong());
}

} // namespace loopscope::ui
