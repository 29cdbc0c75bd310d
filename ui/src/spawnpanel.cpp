#include <loopscope/ui/spawnpanel.h>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <limits>

namespace loopscope::ui {

namespace {

int boundToInt(double value)
{
    return int(std::clamp(value, double(std::numeric_limits<int>::min()),
                          double(std::numeric_limits<int>::max())));
}

QString unitSuffix(const QString &unit)
{
    return unit.isEmpty() ? QString() : QStringLiteral(" ") + unit;
}

//! "delayMs" → "Delay ms"-ish label: split camelCase, drop a trailing unit word.
QString labelFor(const ParamSpec &spec)
{
    QString label;
    for (const QChar c : spec.key) {
        if (c.isUpper() && !label.isEmpty())
            label += QLatin1Char(' ');
        label += label.isEmpty() ? c.toUpper() : c.toLower();
    }
    for (const QLatin1String suffix : { QLatin1String(" ms") }) {
        if (label.endsWith(suffix))
            label.chop(suffix.size());
    }
    return label + QLatin1Char(':');
}

} // namespace

SpawnPanel::SpawnPanel(QWidget *parent) : QWidget(parent)
{
    m_template = new QComboBox;
    m_template->setObjectName(QStringLiteral("spawnTemplate"));
    for (const TemplateSpec &spec : scenarioTemplates())
        m_template->addItem(spec.name, int(spec.id));
    m_summary = new QLabel;
    m_summary->setWordWrap(true);
    m_summary->setObjectName(QStringLiteral("spawnSummary"));
    QPalette dim = m_summary->palette();
    dim.setColor(QPalette::WindowText, dim.color(QPalette::PlaceholderText));
    m_summary->setPalette(dim);

    m_params = new QWidget;
    m_paramsLayout = new QFormLayout(m_params);
    m_paramsLayout->setContentsMargins(0, 0, 0, 0);

    m_count = new QSpinBox;
    m_count->setObjectName(QStringLiteral("spawnCount"));
    m_count->setRange(1, scenariolimits::MaxCount);
    m_count->setValue(1);
    m_count->setToolTip(
            tr("How many instances to spawn (1 to %L1).").arg(scenariolimits::MaxCount));
    m_startDelay = new QSpinBox;
    m_startDelay->setObjectName(QStringLiteral("spawnStartDelay"));
    m_startDelay->setRange(0, boundToInt(double(scenariolimits::MaxDelayMs)));
    m_startDelay->setSuffix(QStringLiteral(" ms"));
    m_startDelay->setToolTip(tr("Loop time before the first instance starts (callLater)."));
    m_interval = new QSpinBox;
    m_interval->setObjectName(QStringLiteral("spawnInterval"));
    m_interval->setRange(0, boundToInt(double(scenariolimits::MaxIntervalMs)));
    m_interval->setSuffix(QStringLiteral(" ms"));
    m_interval->setToolTip(tr("Loop time between two consecutive instances."));
    m_name = new QLineEdit;
    m_name->setObjectName(QStringLiteral("spawnName"));
    m_name->setMaxLength(64);
    m_name->setToolTip(tr("Name prefix: instances are called prefix-1 … prefix-N."));

    m_error = new QLabel;
    m_error->setObjectName(QStringLiteral("spawnError"));
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("color: #d93025;"));
    m_error->hide();

    m_spawn = new QPushButton(tr("Spawn"));
    m_spawn->setObjectName(QStringLiteral("spawnButton"));
    m_spawn->setDefault(true);

    auto *common = new QFormLayout;
    common->addRow(tr("Template:"), m_template);
    common->addRow(m_summary);
    auto *spawnForm = new QFormLayout;
    spawnForm->addRow(tr("Count:"), m_count);
    spawnForm->addRow(tr("Start delay:"), m_startDelay);
    spawnForm->addRow(tr("Interval:"), m_interval);
    spawnForm->addRow(tr("Name prefix:"), m_name);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(common);
    layout->addWidget(m_params);
    layout->addLayout(spawnForm);
    layout->addWidget(m_error);
    layout->addWidget(m_spawn);
    layout->addStretch(1);

    connect(m_template, &QComboBox::currentIndexChanged, this, &SpawnPanel::rebuildParameters);
    connect(m_count, &QSpinBox::valueChanged, this, &SpawnPanel::revalidate);
    connect(m_interval, &QSpinBox::valueChanged, this, &SpawnPanel::revalidate);
    connect(m_startDelay, &QSpinBox::valueChanged, this, &SpawnPanel::revalidate);
    connect(m_name, &QLineEdit::textChanged, this, &SpawnPanel::revalidate);
    connect(m_name, &QLineEdit::returnPressed, this, &SpawnPanel::spawn);
    connect(m_spawn, &QPushButton::clicked, this, &SpawnPanel::spawn);
    rebuildParameters();
}

SpawnPanel::~SpawnPanel() = default;

ScenarioTemplate SpawnPanel::currentTemplate() const
{
    return ScenarioTemplate(m_template->currentData().toInt());
}

void SpawnPanel::setTemplate(ScenarioTemplate id)
{
    const int index = m_template->findData(int(id));
    if (index >= 0)
        m_template->setCurrentIndex(index);
}

void SpawnPanel::rebuildParameters()
{
    while (m_paramsLayout->rowCount() > 0)
        m_paramsLayout->removeRow(0);
    m_editors.clear();

    const TemplateSpec &spec = templateSpec(currentTemplate());
    m_summary->setText(spec.summary);
    m_name->setText(spec.name);
    for (const ParamSpec &param : spec.params) {
        QWidget *editor = nullptr;
        switch (param.type) {
        case ParamType::Integer: {
            auto *box = new QSpinBox;
            box->setRange(boundToInt(param.minimum), boundToInt(param.maximum));
            box->setValue(boundToInt(double(param.defaultValue.toLongLong())));
            box->setSuffix(unitSuffix(param.unit));
            box->setGroupSeparatorShown(param.maximum >= 10000);
            connect(box, &QSpinBox::valueChanged, this, &SpawnPanel::revalidate);
            editor = box;
            break;
        }
        case ParamType::Number: {
            auto *box = new QDoubleSpinBox;
            box->setDecimals(3);
            box->setRange(param.minimum, param.maximum);
            box->setSingleStep(std::max(0.001, (param.maximum - param.minimum) / 20.0));
            box->setValue(param.defaultValue.toDouble());
            box->setSuffix(unitSuffix(param.unit));
            connect(box, &QDoubleSpinBox::valueChanged, this, &SpawnPanel::revalidate);
            editor = box;
            break;
        }
        case ParamType::Boolean: {
            auto *box = new QCheckBox;
            box->setChecked(param.defaultValue.toBool());
            connect(box, &QCheckBox::toggled, this, &SpawnPanel::revalidate);
            editor = box;
            break;
        }
        case ParamType::String: {
            auto *edit = new QLineEdit(param.defaultValue.toString());
            edit->setMaxLength(boundToInt(param.maximum));
            connect(edit, &QLineEdit::textChanged, this, &SpawnPanel::revalidate);
            editor = edit;
            break;
        }
        case ParamType::Choice: {
            auto *combo = new QComboBox;
            combo->addItems(param.choices);
            combo->setCurrentText(param.defaultValue.toString());
            connect(combo, &QComboBox::currentIndexChanged, this, &SpawnPanel::revalidate);
            editor = combo;
            break;
        }
        }
        if (!editor)
            continue;
        editor->setObjectName(QStringLiteral("param_") + param.key);
        editor->setToolTip(param.description);
        m_paramsLayout->addRow(labelFor(param), editor);
        m_editors.push_back(editor);
    }
    revalidate();
}

ScenarioSpawn SpawnPanel::formSpawn() const
{
    ScenarioSpawn spawn = ScenarioSpawn::withDefaults(currentTemplate(), m_name->text().trimmed(),
                                                      m_count->value());
    spawn.startDelayMs = m_startDelay->value();
    spawn.intervalMs = m_interval->value();
    const TemplateSpec &spec = templateSpec(spawn.templateId);
    for (std::size_t i = 0; i < spec.params.size() && i < m_editors.size(); ++i) {
        const ParamSpec &param = spec.params[i];
        QWidget *editor = m_editors[i];
        QVariant value;
        switch (param.type) {
        case ParamType::Integer:
            value = qint64(static_cast<QSpinBox *>(editor)->value());
            break;
        case ParamType::Number:
            value = static_cast<QDoubleSpinBox *>(editor)->value();
            break;
        case ParamType::Boolean:
            value = static_cast<QCheckBox *>(editor)->isChecked();
            break;
        case ParamType::String:
            value = static_cast<QLineEdit *>(editor)->text();
            break;
        case ParamType::Choice:
            value = static_cast<QComboBox *>(editor)->currentText();
            break;
        }
        spawn.params.insert(param.key, value);
    }
    return spawn;
}

std::optional<ScenarioSpawn> SpawnPanel::currentSpawn() const
{
    if (!errorText().isEmpty())
        return std::nullopt;
    return formSpawn();
}

QString SpawnPanel::errorText() const
{
    return m_error->isHidden() ? QString() : m_error->text();
}

void SpawnPanel::revalidate()
{
    QStringList problems;
    if (m_name->text().trimmed().isEmpty())
        problems.append(tr("Give the tasks a name prefix."));
    if (problems.isEmpty()) {
        // The rules a range cannot express (total tasks, string lengths) are the parser's.
        Scenario scenario;
        scenario.name = QStringLiteral("spawn");
        scenario.title = scenario.description = QStringLiteral("spawned from the panel");
        scenario.spawns.push_back(formSpawn());
        for (const ScenarioError &e : validateScenario(scenario)) {
            QString where = e.path;
            where.remove(QStringLiteral("spawns[0]."));
            problems.append(where.isEmpty() ? e.message : where + QStringLiteral(": ") + e.message);
        }
    }
    m_error->setText(problems.join(QLatin1Char('\n')));
    m_error->setVisible(!problems.isEmpty());
    m_spawn->setEnabled(problems.isEmpty());
}

void SpawnPanel::spawn()
{
    if (std::optional<ScenarioSpawn> s = currentSpawn())
        Q_EMIT spawnRequested(*s);
}

} // namespace loopscope::ui
